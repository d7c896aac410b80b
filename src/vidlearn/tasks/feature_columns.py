"""Which columns of a feature table hold features (``"<family>.<...>"``) and which hold the class
labels to score a clustering against."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from vidlearn.errors import ConfigError

__all__ = ["feature_columns", "feature_families"]

_META_COLUMNS = ("path", "target", "label", "group")
_LABEL_COLUMNS = ("target", "label")


def feature_columns(df: pd.DataFrame, prefixes: Sequence[str] | str | None = None) -> list[str]:
    """Numeric feature columns of ``df`` (named ``"<family>.<...>"``), in table order.

    ``prefixes`` keeps only columns whose name is a prefix or starts with ``prefix + "."`` (so
    ``"color"`` selects ``color.*`` and ``"motion.hof"`` selects ``motion.hof.*``); every prefix
    must match something, or a :class:`ConfigError` lists the families that the table has.
    """
    numeric = [
        c
        for c in df.columns
        if isinstance(c, str) and "." in c and c not in _META_COLUMNS and pd.api.types.is_numeric_dtype(df[c])
        and not pd.api.types.is_bool_dtype(df[c])
    ]
    if prefixes is None:
        if not numeric:
            raise ConfigError(
                f"features: the table has no feature columns named '<family>.<name>' (columns: {preview_columns(df.columns)})"
            )
        return numeric
    items = [prefixes] if isinstance(prefixes, str) else list(prefixes)
    items = [p.strip().rstrip(".") for p in items if p and p.strip()]
    if not items:
        raise ConfigError("features: choose at least one feature family")
    chosen: list[str] = []
    for prefix in items:
        found = [c for c in numeric if c == prefix or c.startswith(prefix + ".")]
        if not found:
            have = ", ".join(feature_families(df)) or "none"
            raise ConfigError(f"features: the table has no '{prefix}' feature columns (families in the table: {have})")
        chosen.extend(c for c in found if c not in chosen)
    order = {c: i for i, c in enumerate(numeric)}
    return sorted(chosen, key=order.__getitem__)


def feature_families(df: pd.DataFrame) -> list[str]:
    """The feature families (column-name prefixes before the first dot) present in ``df``."""
    families: list[str] = []
    for c in df.columns:
        if isinstance(c, str) and "." in c and c not in _META_COLUMNS:
            fam = c.split(".", 1)[0]
            if fam not in families:
                families.append(fam)
    return families


def preview_columns(columns: Sequence[Any], n: int = 8) -> str:
    cols = [str(c) for c in columns]
    return ", ".join(cols[:n]) + (f", ... ({len(cols)} in all)" if len(cols) > n else "") if cols else "none"


def label_series(df: pd.DataFrame, labels: str | Sequence[Any] | None) -> tuple[pd.Series | None, str | None]:
    """The class labels to score against and where they come from, or ``(None, None)``: a named
    column, given values, or by default the ``target`` (else ``label``) column when it holds class
    names (numbers with decimals are regression targets and are not used)."""
    if labels is not None and not isinstance(labels, str):
        items = list(labels)
        if len(items) != len(df):
            raise ConfigError(f"labels: {len(items)} values for {len(df)} rows")
        values = pd.Series(items, index=df.index, dtype="object")
        return values.where(values.notna(), None), "given labels"
    if isinstance(labels, str):
        if labels not in df.columns:
            raise ConfigError(f"labels: no column '{labels}' in the table (columns: {preview_columns(df.columns)})")
        name = labels
    else:
        name = next((c for c in _LABEL_COLUMNS if c in df.columns and df[c].notna().any()), None)
        if name is None:
            return None, None
        if pd.api.types.is_float_dtype(df[name]) and not np.all(np.mod(df[name].dropna().to_numpy(), 1) == 0):
            return None, None  # regression targets are not classes
    col = df[name].astype("object")
    col = col.where(df[name].notna(), None)
    return (col, name) if col.notna().any() else (None, None)
