"""Feature tables: one row of named features per video (Parquet, or CSV/TSV by suffix), computed in
worker processes or on Ray, resumable, bad videos skipped (`table`); from a table to a model's
input matrix (`matrix`).

    from vidlearn.tables import compute_feature_table, read_feature_table
    table = compute_feature_table(records, ["color", "motion"], out="features.parquet")
"""

from vidlearn.tables.matrix import feature_matrix, load_table, select_columns
from vidlearn.tables.table import compute_feature_table, feature_columns, parse_kinds, read_feature_table

__all__ = ["compute_feature_table", "feature_columns", "feature_matrix", "load_table", "parse_kinds", "read_feature_table", "select_columns"]
