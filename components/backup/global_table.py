"""Global table replicas of a BackedUpTable (`safetynet:tables[i].replicaRegions`).

A replica is a full read/write copy of the table in another region, kept in sync within seconds
through the table's NEW_AND_OLD_IMAGES stream. What it protects against: the table's region being
unavailable (switch the application to a replica region; the data loss is seconds). What it does
not protect against: bad writes, deletes and a dropped item replicate to every replica just as
fast; point-in-time recovery and the nightly exports are what undo those. Cost: every write is
paid once per region (replicated write request units), plus storage, streams and cross-region
transfer in each replica region (roughly N+1 times the table's write and storage bill).
"""

from __future__ import annotations

from typing import Any

from components.config.tables import TableSpec


def global_table_inputs(spec: TableSpec, *, deletion_protection: bool) -> dict[str, Any]:
    """`replicas` for aws.dynamodb.Table (empty without replicaRegions): PITR and the table's
    deletion protection on every replica, the table's tags propagated to each."""
    if not spec.replica_regions:
        return {}
    return {
        "replicas": [
            {
                "region_name": region,
                "point_in_time_recovery": True,
                "deletion_protection_enabled": deletion_protection,
                "propagate_tags": True,
            }
            for region in spec.replica_regions
        ]
    }
