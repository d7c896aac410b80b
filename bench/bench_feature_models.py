"""A pretrained encoder on Weizmann, leave-one-actor-out folds: frame_effnet_lite0 (the baseline:
the frozen ImageNet EfficientNet-Lite0 runs on 4 frames of every clip, every epoch) against
feature_rnn on cached rows (the same encoder runs once per frame of every video; a GRU trains on
the cached rows), with the configurations of docs/results.md. Each model starts from an empty
cache, so its first fold pays for filling it (224 px frames, or the embedding of every frame) and
the next fold shows what every further fold, or a re-run, costs.

    .venv/bin/python bench/bench_feature_models.py [--folds 4,8]

Prints wall time and video accuracy per fold and the speed ratios. Needs ../shared/data/weizmann4.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIZMANN = ROOT.parent / "shared" / "data" / "weizmann4" / "manifest.csv"


def run(config: str, fold: str, tmp: Path) -> tuple[float, float, int]:
    from vidlearn.training.experiment import build_config
    from vidlearn.data.sources import load_records
    from vidlearn.training.fit import fit

    records = load_records(WEIZMANN, group="actor")
    train = [r for r in records if str(r.group) != fold]
    test = [r for r in records if str(r.group) == fold]
    cfg = build_config(ROOT / "configs" / config, overrides=[f"data.cache_dir={tmp / config}"])  # + the encoder's normalisation
    started = time.perf_counter()
    result = fit(train, cfg, tmp / f"run-{config}", eval_records=test, progress=False, echo=lambda s: None)
    return time.perf_counter() - started, result.metrics["video"]["accuracy"], len(test)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", default="4,8", help="held-out actors (0..8), in order")
    args = parser.parse_args()
    if not WEIZMANN.is_file():
        print(f"skipped: {WEIZMANN} not found")
        return 0
    import torch

    folds = [f.strip() for f in args.folds.split(",") if f.strip()]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; folds (held-out actor): {', '.join(folds)}")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, config in (("baseline: frame_effnet_lite0 (encoder in every step)", "weizmann_effnet.yaml"),
                             ("feature_rnn on cached rows", "weizmann_effnet_rnn.yaml")):
            for i, fold in enumerate(folds):
                seconds, acc, n = run(config, fold, Path(d))
                rows.append((name, config, fold, "empty" if i == 0 else "filled", seconds, acc, n))
    base = {(f, c): s for name, config, f, c, s, _, _ in rows if config == "weizmann_effnet.yaml"}
    print("| model | config | held-out actor | cache | wall (s) | video accuracy | speed vs baseline |")
    print("|---|---|---:|---|---:|---:|---:|")
    for name, config, fold, cache, seconds, acc, n in rows:
        ratio = base[(fold, cache)] / seconds
        print(f"| {name} | `configs/{config}` | {fold} | {cache} | {seconds:.1f} | {acc:.3f} ({round(acc * n)}/{n}) | {ratio:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
