"""Staging: load a validated (optionally masked) prod export into a test table.

Two modes:

- `replace`: disable deletion protection, delete the test table, ImportTable from the export
  (the table's full schema), then re-apply what an import does not carry (TTL, PITR, tags,
  streams, table class, deletion protection) so a `pulumi refresh` shows no drift. ImportTable
  cannot create local secondary indexes: such tables fall back to `refill`, with a logged reason.
- `refill`: keep the table (ARN, stream, event source mappings); BatchWriteItem the export's
  items (25 per request, `UnprocessedItems` retried with backoff until written, or the run fails
  loudly - never dropped), delete the items that are not in the export, check the count.

Safety, in order: an export is validated completely before any table is touched
(`handlers.exports.validate_export` in one process; in the state machine the manifest checks,
then one Distributed Map child per data file, `files`), every item's key against the table's
key schema and the export's source table included (`fit`); a replace that fails after its
delete recreates the table and refills it from its last good export (`recovery`); every task
refuses a table that is not tagged as a staging target of this stack, and any prod-tagged
table (`target.guard_table`); a ledger record per table makes duplicate events and exports
older than the last staged one no-ops (`ledger.claim`). The test stack's one trigger sees every
prod export: an export of a table the stack does not stage (no target registered for its
prefix) is refused first (`targets`).

The modules, one concept each (clients are passed in; none creates one):

    entrypoints  the Lambda entrypoint: one thin `task` per state of the state machine
    plan         the validate step's decisions: mode, the data to load, the sizes
    targets      which test table an export goes to (the targets the stack registered)
    target       the test table (TargetTable), the mode it gets, and the guard on its tags
    fit          whether an export fits the table: its items' keys, its source table
    ledger       idempotency and order of runs, the problems recorded for the notification, and
                 each table's last good export
    replace      delete the table, ImportTable, re-apply what an import does not carry
    recovery     recreate a table after a replace failed past its delete
    refill       write one data file's items, delete the items that are not in the export
    count        the exact item count, in parallel Scan segments
    verify       the count check and a sample of items read back
    compare      items compared as DynamoDB does, primary keys and their digests
    files        per-data-file work bounded for Lambda (validate one file, sample a few)
    masking      masking of personal data, item by item and export to export
    exceptions   the domain errors

The CLI (`safetynet stage`, `safetynet.staging.flow`) runs the same steps in one process.
"""
