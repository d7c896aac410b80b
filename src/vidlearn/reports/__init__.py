"""Reports that come with every run: one self-contained `report.html` (pictures inlined, no
JavaScript, no external requests) next to the run's metrics.

- `write_html_report(out_dir, *, title, metrics, config, sections, images, predictions, timing)`:
  the generic page, for any kind of run (train, evaluate, cross-validation, baseline, cluster,
  tune); extra content goes in `Section`s built with `table_html` / `image_html` / `text_html`.
- `write_run_report(out_dir, ...)` / `write_cv_report(run_dir, ...)`: the same page from the
  files a run left behind (what the engine calls; never fails a finished run).
- `predictions.csv` (`write_predictions_csv`, `read_predictions_csv`, `predictions_from_scores`):
  which video was predicted as what, so that reports can show the misclassified ones.
"""

from vidlearn.reports.html import (
    BUILTIN_SECTION_IDS,
    Section,
    confused_pairs,
    data_uri,
    format_duration,
    image_html,
    render_html_report,
    table_html,
    text_html,
    write_html_report,
)
from vidlearn.reports.predictions import (
    PREDICTION_COLUMNS,
    predictions_from_scores,
    read_predictions_csv,
    write_predictions_csv,
)
from vidlearn.reports.runs import write_cv_report, write_run_report
from vidlearn.reports.thumbnails import middle_frame, thumbnail_jpeg

__all__ = [
    "BUILTIN_SECTION_IDS",
    "PREDICTION_COLUMNS",
    "Section",
    "confused_pairs",
    "data_uri",
    "format_duration",
    "image_html",
    "middle_frame",
    "predictions_from_scores",
    "read_predictions_csv",
    "render_html_report",
    "table_html",
    "text_html",
    "thumbnail_jpeg",
    "write_cv_report",
    "write_html_report",
    "write_predictions_csv",
    "write_run_report",
]
