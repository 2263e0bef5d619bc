"""Coverage of the account: which live tables safetynet protects, and bringing the rest in.

`inventory` reads every table of an account and region as DynamoDB describes it (boto3 only, no
Pulumi); `adopt` turns selected live tables into `safetynet:tables` entries that import them with
no difference.
"""
