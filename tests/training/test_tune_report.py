"""The files a search leaves, from a finished study (built without training): trials.csv from
`study.trials_dataframe()`, Optuna's own plots (history, importance, slice, parallel coordinates,
per-epoch curves) and report.html, whose trials table keeps one column for the parameters."""

from __future__ import annotations

import csv

import pytest
from PIL import Image

from vidlearn.config import ExperimentConfig
from vidlearn.training.tune_report import PLOTS, trials_frame, write_reports


@pytest.fixture(scope="module")
def written(tmp_path_factory, tune_study):
    out = tmp_path_factory.mktemp("tune")
    study = tune_study()
    return study, out, write_reports(study, ExperimentConfig(), out, metric="val_acc")


def test_trials_csv_has_one_row_per_trial_with_the_dotted_parameter_columns(written) -> None:
    study, out, files = written
    rows = list(csv.DictReader(open(files["trials"], encoding="utf-8")))
    assert [r["number"] for r in rows] == [str(t.number) for t in study.trials]
    assert [r["state"] for r in rows][-3:] == ["PRUNED", "FAIL", "INTERRUPTED"]
    head = list(rows[0])
    assert head[:5] == ["number", "state", "value", "seconds", "epochs_reported"] and head[-2:] == ["run_dir", "error"]
    assert {"optim.lr", "model.name", "sampling.num_frames", "transform.scale_min"} <= set(head)
    best = study.best_trial
    assert float(rows[best.number]["value"]) == pytest.approx(best.value)
    assert float(rows[best.number]["optim.lr"]) == pytest.approx(best.params["optim.lr"])
    assert rows[0]["epochs_reported"] == "3" and rows[-3]["epochs_reported"] == "1"
    assert rows[-2]["error"].startswith("VideoError:")
    assert len(trials_frame(study)) == len(rows)


def test_optunas_plots_are_written_and_shown_in_the_report(written) -> None:
    _, out, files = written
    for stem in PLOTS:
        assert files[stem] == out / f"{stem}.png"
        with Image.open(files[stem]) as im:
            assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 200
    # the slice plot has a panel per parameter: wider than the history plot
    assert Image.open(files["slice"]).size[0] > Image.open(files["history"]).size[0]
    text = files["report"].read_text(encoding="utf-8")
    for stem, (title, _) in PLOTS.items():
        assert f'id="{stem}"' in text and title in text
    # one trials column for all parameters, one name = value a line
    assert "<th>parameters</th>" in text and "<code>optim.lr</code> = " in text
    assert "<th>optim.lr</th>" not in text


def test_too_few_trials_get_a_note_instead_of_a_plot(tmp_path, tune_study) -> None:
    study = tune_study(1)
    files = write_reports(study, ExperimentConfig(), tmp_path, metric="val_acc")
    assert Image.open(files["parallel"]).size[1] < 250  # the short note picture
    assert Image.open(files["importance"]).size[1] < 250
    assert Image.open(files["slice"]).size[1] > 250  # one completed trial is enough for a slice
