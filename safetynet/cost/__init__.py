"""What the safety net costs: `prices` (dated defaults with their sources, overridden by a prices
file), `model` (pure functions: a table's monthly cost by part, and AWS Backup's for comparison),
`inputs` (the stack's settings and the per-table options), `measure` (size and write rate from
DynamoDB and CloudWatch) and `report` (the tables, the assumptions and the JSON of `safetynet cost`).
"""
