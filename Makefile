# Two commands: `make demo` (set up + run the demo) and `make test` (set up + run every test).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.setup-stamp
DEMO_OUT ?= demo_out

.PHONY: setup demo test test-all bench bench-all clean browser

# Idempotent: re-installs only when pyproject.toml or constraints.txt changed.
setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,serve,ray]"
	touch $(STAMP)

demo: setup
	$(BIN)/vidlearn demo --out $(DEMO_OUT)

# -n auto: one pytest-xdist worker a core (tests/conftest.py gives each its share of torch's threads).
test: setup browser
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n auto --dist worksteal

# Also the opt-in tests marked slow (see pyproject.toml's markers).
test-all: setup browser
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n auto --dist worksteal -m ""

# Headless Chromium for the report browser test; never fails: without it that test skips with a reason.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || echo "chromium unavailable: browser tests will skip"

# Every benchmark, each against its named baseline in the same run (results: bench/RESULTS.md).
# `make bench` is the quick set (short settings, ~10 min); `make bench-all` the documented
# settings. Time them on a quiet machine: a benchmark beside other work measures the other work.
bench: setup
	$(BIN)/python bench/bench_decode.py --quick
	$(BIN)/python bench/bench_features.py --no-write --repeats 1
	$(BIN)/python bench/bench_predict.py --repeats 1
	$(BIN)/python bench/bench_train_step.py
	$(BIN)/python bench/bench_feature_models.py --folds 4
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_cache_checksum.py
	$(BIN)/python bench/bench_zoo.py --models x3d_xs,r3d_18,s3d --batches 1 --repeats 2
	$(BIN)/python bench/bench_hf_transformers.py --batches 1 --repeats 2

bench-all: setup
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done
	$(BIN)/python bench/augment_weizmann.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
