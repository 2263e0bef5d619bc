"""What the demo makes up: deterministic, realistic items for any configured table, in DynamoDB's
low-level format, and the CloudTrail event of its accident.

Every item carries every attribute type (S N B SS NS BS M L NULL BOOL), nested data, a
38-digit number, unicode, and personal-data fields (name, email, phone, address.street) that the
shipped test stack masks. Keys and index keys get values of the type the table's schema says.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from components.config.tables import TableSpec

FIRST = [
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Zoë",
    "Søren",
    "Renée",
    "José",
    "Łukasz",
    "Ülkü",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Müller",
    "García",
    "Nakamura",
    "Okonkwo",
]
# No quote characters in generated strings: moto's ImportTable parses export lines with a PartiQL
# JSON parser that ends a string at a single quote and does not decode escapes (a moto gap; AWS
# reads them fine). Unicode is kept: exports are UTF-8, not escaped.
STREETS = ["Main St", "Hauptstraße", "Rue de Rivoli", "Baker Street", "Calle Mayor", "Via Roma"]
CITIES = ["Berlin", "Paris", "London", "Madrid", "Rome", "Zürich", "Kraków"]
STATUSES = ["NEW", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"]

# Personal-data attributes every demo item carries (the shipped test config masks them).
PERSONAL_FIELDS = ("name", "email", "phone", "address.street")


def _key_value(attr_type: str, rng: random.Random, i: int, name: str) -> dict[str, Any]:
    if attr_type == "S":
        return {"S": f"{name}-{i:07d}"}
    if attr_type == "N":
        return {"N": str(i * 7 + rng.randint(0, 6))}
    return {"B": f"{name}:{i}".encode()}


def demo_item(spec: TableSpec, i: int, seed: int = 7) -> dict[str, Any]:
    """Item number `i` of the table, the same for the same (table, i, seed)."""
    rng = random.Random(f"{seed}:{spec.name}:{i}")  # noqa: S311 (test data, not secrets)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{first.lower()}.{last.lower()}{i}@example.com"
    # Every type, nesting where real data has it (an address map, a list of order maps), and
    # few value nodes per item: the emulator (moto) serializes every node of every item it
    # returns, at a few hundred items per second, and the demo must stay within its budget.
    item: dict[str, Any] = {
        "name": {"S": f"{first} {last}"},
        "email": {"S": email},
        "phone": {"S": f"+49 30 {rng.randint(1000000, 9999999)}"},
        "address": {
            "M": {
                "street": {"S": f"{rng.randint(1, 200)} {rng.choice(STREETS)}"},
                "city": {"S": rng.choice(CITIES)},
            }
        },
        "orders": {
            "L": [
                {"M": {"ref": {"S": f"ORD-{rng.randint(1, 999999):06d}"}, "email": {"S": email}}}
                for _ in range(rng.randint(0, 2))
            ]
        },
        "balance": {"N": str(rng.randint(10**37, 10**38 - 1))},  # 38 significant digits
        "avatar": {"B": rng.randbytes(rng.randint(1, 48))},
        "labels": {"SS": sorted({rng.choice(["vip", "beta", "nl", "eu", "b2b", "émigré"]) for _ in range(3)})},
        "scores": {"NS": sorted({str(rng.randint(0, 1000)) for _ in range(3)})},
        "hashes": {"BS": sorted({rng.randbytes(8) for _ in range(2)})},
        "active": {"BOOL": rng.random() < 0.9},
        "note": {"NULL": True},
    }
    primary = {k["AttributeName"] for k in spec.key_schema()}
    for attr in spec.attribute_definitions():
        name, typ = attr["AttributeName"], attr["AttributeType"]
        # Primary keys are unique per item; an index key keeps a realistic value of its type.
        if name in primary or typ not in item.get(name, {}):
            item[name] = _key_value(typ, rng, i, name)
    if spec.ttl_attribute:
        item[spec.ttl_attribute] = {"N": str(4_000_000_000 + i)}  # far future: TTL never fires in the demo
    return item


def demo_items(spec: TableSpec, count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`count` distinct items for the table."""
    for i in range(count):
        yield demo_item(spec, i, seed)


def cloudtrail_delete_table(table: str, region: str, principal: str) -> dict[str, Any]:
    """A DeleteTable management event as CloudTrail delivers it through EventBridge."""
    account = principal.split(":")[4]
    role = principal.split("/")[1]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.dynamodb",
        "account": account,
        "time": now,
        "region": region,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:alice@example.com",
                "arn": principal,
                "accountId": account,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "arn": f"arn:aws:iam::{account}:role/{role}",
                        "accountId": account,
                        "userName": role,
                    },
                    "attributes": {"creationDate": now, "mfaAuthenticated": "false"},
                },
            },
            "eventTime": now,
            "eventSource": "dynamodb.amazonaws.com",
            "eventName": "DeleteTable",
            "awsRegion": region,
            "sourceIPAddress": "203.0.113.24",
            "userAgent": "aws-cli/2.17.0 Python/3.11 md/command#dynamodb.delete-table",
            "requestParameters": {"tableName": table},
            "responseElements": {"tableDescription": {"tableName": table, "tableStatus": "DELETING"}},
            "requestID": "UJ0BQ5K9N2B7S8HJ0MVAE3PLDBVV4KQNSO5AEMVJF66Q9ASUAAJG",
            "eventID": "0c5d3f76-5b1c-4f5e-9d1b-3d3f1e6b2a11",
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        },
    }
