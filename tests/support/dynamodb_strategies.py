"""Hypothesis strategies for DynamoDB attribute values the property tests share."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def nested_values(
    scalars: st.SearchStrategy[dict[str, Any]], names: st.SearchStrategy[str], *, max_leaves: int = 6
) -> st.SearchStrategy[dict[str, Any]]:
    """Attribute values: `scalars`, and lists (L) and maps (M, members named by `names`) of them,
    up to three members each."""
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda v: {"L": v}),
            st.dictionaries(names, inner, max_size=3).map(lambda v: {"M": v}),
        ),
        max_leaves=max_leaves,
    )
