"""Plain-word cluster names from profiles, as language-neutral traits.

A cluster's name is the list of its most distinctive features, each as a *trait*: a code naming what
the feature measures ("volume", "order_value", "mix:phones", …) and whether the cluster is high or low
on it. `cluster_traits` chooses the traits (the same in every language); `name_clusters` renders them
in English (the names the `workbench segment` table carries); ``workbench.present.segment`` renders
them in English or Chinese for pages.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["Trait", "trait_of", "cluster_traits", "name_clusters", "trait_phrase", "render_name", "TRAIT_CODES"]

Trait = tuple[str, bool]  # (code, high)

# substrings of a column name → trait code; the first match wins (order matters: "avg_order" before "order")
_KEYS: list[tuple[tuple[str, ...], str]] = [
    (("trend", "slope", "change", "growth_rate"), "trend"),
    (("recency", "days_since", "overdue"), "recency"),
    (("cycle", "gap_days"), "cycle"),
    (("avg_order", "order_value", "aov", "basket"), "order_value"),
    (("order_days", "order_count", "orders_", "frequency", "n_orders"), "frequency"),
    (("net_sales", "sales", "revenue", "volume", "monetary"), "volume"),
    (("breadth", "n_lines", "lines_"), "breadth"),
    (("outlets", "coverage"), "coverage"),
    (("tenure",), "tenure"),
    (("satisfaction", "nps"), "satisfaction"),
    (("conflict",), "conflict"),
    (("return",), "return"),
    (("discount",), "discount"),
    (("training",), "training"),
    (("shortfall",), "shortfall"),
]

# English phrase per trait code: (when high, when low)
_EN: dict[str, tuple[str, str]] = {
    "trend": ("growing orders", "declining orders"),
    "recency": ("long since last order", "ordered recently"),
    "cycle": ("long order cycle", "short order cycle"),
    "order_value": ("large orders", "small orders"),
    "frequency": ("frequent orders", "infrequent orders"),
    "volume": ("high volume", "low volume"),
    "breadth": ("broad range", "narrow range"),
    "coverage": ("wide coverage", "narrow coverage"),
    "tenure": ("long-standing", "recently joined"),
    "satisfaction": ("satisfied", "dissatisfied"),
    "conflict": ("conflict-prone", "few conflicts"),
    "return": ("many returns", "few returns"),
    "discount": ("deep discounts", "shallow discounts"),
    "training": ("well trained", "little training"),
    "shortfall": ("rebates owed", "rebates settled"),
}
TRAIT_CODES: tuple[str, ...] = tuple(_EN)

# prefixes of product-mix columns: the rest of the name is the product line
MIX_PREFIXES: tuple[str, ...] = ("mix_", "share_", "clr_", "lspend_")


def trait_of(column: str) -> str:
    """The trait code of a feature column: "mix:<line>" for product-mix columns, a code of TRAIT_CODES,
    or "raw:<column>" when nothing matches."""
    col = column.lower()
    for prefix in MIX_PREFIXES:
        if col.startswith(prefix):
            return f"mix:{column[len(prefix):]}"
    for keys, code in _KEYS:
        if any(k in col for k in keys):
            return code
    return f"raw:{column}"


def trait_phrase(trait: Trait) -> str:
    """The English phrase of a trait, e.g. ("volume", True) → "high volume", ("mix:phones", True) →
    "mostly phones"."""
    code, high = trait
    if code.startswith("mix:"):
        line = code[4:].replace("_", " ")
        return f"mostly {line}" if high else f"little {line}"
    if code.startswith("raw:"):
        words = code[4:].replace("_", " ")
        return f"high {words}" if high else f"low {words}"
    return _EN[code][0 if high else 1]


def cluster_traits(profile_z: pd.DataFrame, *, top: int = 2, threshold: float = 0.5) -> pd.DataFrame:
    """The traits that name each cluster, from its standardized profile (rows clusters, columns features).

    A cluster is named by the traits of the `top` features that set it apart the most (|z| ≥
    `threshold`, in scaled units); a cluster with none is "typical" (no traits); a name already taken
    gets the next distinguishing trait, then a number. Returns one row per cluster (index as
    `profile_z`): traits (tuple of (code, high)) and number (0, or 2, 3, … for repeated names).
    """
    rows: dict[Any, tuple[tuple[Trait, ...], int]] = {}
    used: set[tuple[tuple[Trait, ...], int]] = set()
    for cluster, row in profile_z.iterrows():
        order = row.abs().sort_values(ascending=False, kind="stable")
        strong = [c for c in order.index if abs(row[c]) >= threshold]
        traits: list[Trait] = []
        for c in strong:
            t = (trait_of(str(c)), bool(row[c] > 0))
            if t not in traits:
                traits.append(t)
        k = min(top, len(traits))
        name = tuple(traits[:k])
        while (name, 0) in used and k < len(traits):
            k += 1
            name = tuple(traits[:k])
        number = 0
        while (name, number) in used:
            number = 2 if number == 0 else number + 1
        used.add((name, number))
        rows[cluster] = (name, number)
    return pd.DataFrame(
        {"traits": [v[0] for v in rows.values()], "number": [v[1] for v in rows.values()]},
        index=pd.Index(list(rows), name=profile_z.index.name),
    )


def render_name(traits: tuple[Trait, ...], number: int, phrase, *, sep: str = ", ", typical: str = "typical") -> str:
    """One cluster name: the phrases of `traits` joined by `sep` (`typical` when none), " (n)" if numbered."""
    name = sep.join(phrase(t) for t in traits) if traits else typical
    return f"{name} ({number})" if number else name


def name_clusters(profile_z: pd.DataFrame, *, top: int = 2, threshold: float = 0.5) -> pd.Series:
    """Plain-word English name per cluster from its standardized profile (see `cluster_traits`), e.g.
    "high volume, declining orders"; ``present.segment.cluster_names`` gives them in Chinese."""
    traits = cluster_traits(profile_z, top=top, threshold=threshold)
    names = [render_name(t, n, trait_phrase) for t, n in zip(traits["traits"], traits["number"], strict=True)]
    return pd.Series(names, index=traits.index, name="cluster_name")
