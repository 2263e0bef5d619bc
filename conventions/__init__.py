"""Names that several layers must agree on: tags, environments, vault prefixes, metric names.

Imported by components (what is declared), handlers (what runs in Lambda), the CLI and the
policy rules alike, so it imports neither Pulumi nor boto3, and it ships in the Lambda archive
beside the handlers.
"""
