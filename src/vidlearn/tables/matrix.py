"""From a feature table to a model's input: read a table, choose its feature columns (by family prefix), and the float matrix of given columns (a missing column or a non-finite value is an error naming the table)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vidlearn.errors import ConfigError, DataSourceError


def load_table(table: pd.DataFrame | str | Path) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    from vidlearn.tables.table import read_feature_table

    return read_feature_table(table)


def select_columns(table: pd.DataFrame, prefixes: Sequence[str] | str | None = None) -> list[str]:
    """The table's feature columns, or those starting with any of ``prefixes`` (``"color"``,
    ``"shape.hog"``, ``"deep"`` ...; a comma-separated string works too)."""
    from vidlearn.tables.table import feature_columns

    cols = feature_columns(table)
    if not cols:
        raise DataSourceError(table.attrs.get("vidlearn", {}).get("path", "feature table"), ["no feature columns (numeric columns named family.descriptor...)"])
    if prefixes is None:
        return cols
    wanted = [p.strip() for p in (prefixes.split(",") if isinstance(prefixes, str) else prefixes) if p.strip()]
    if not wanted:
        return cols
    chosen = [c for c in cols if any(c.startswith(p) for p in wanted)]
    empty = [p for p in wanted if not any(c.startswith(p) for c in cols)]
    if empty:
        families = sorted({c.split(".")[0] for c in cols})
        raise ConfigError(f"baseline.columns: no feature column starts with {empty[0]!r} (families: {', '.join(families)})")
    return chosen


def feature_matrix(table: pd.DataFrame, columns: Sequence[str], source: str) -> np.ndarray:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataSourceError(source, [f"{len(missing)} feature column(s) missing, e.g. {', '.join(missing[:3])}"])
    x = table[list(columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.all(np.isfinite(x)):
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        raise DataSourceError(source, [f"{bad} row(s) have missing or infinite feature values"])
    return x
