# One-line entry points. `make install quickstart` is the main job; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU wheel of torch by default (a plain `pip install torch` pulls a multi-GB CUDA build). GPU: see README.
TORCH_SPEC ?= torch==2.13.0
# The versions the suite was tested with; CONSTRAINTS= (empty) installs the newest allowed by pyproject.toml.
CONSTRAINTS ?= constraints.txt
PIP_CONSTRAINTS := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
# Single-threaded BLAS: with 2 threads on a busy machine GRPO ran 30-70x slower.
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install install-dev quickstart test test-fast test-smoke lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet $(PIP_CONSTRAINTS) -e .

install-dev: install
	$(BIN)/pip install --quiet $(PIP_CONSTRAINTS) -e ".[dev]"

quickstart: install
	$(BIN)/interplay-hf quickstart

test: install-dev
	HF_HUB_OFFLINE=1 HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -n 2 -q -m "not paper_smoke"

test-smoke: install-dev  # the paper pipelines other than extrapolation (which `test` runs), end to end at toy scale
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n 2 -q -m paper_smoke

test-fast: install-dev
	HF_HUB_OFFLINE=1 HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -n 2 -q -m "not slow"

# ruff with the settings of pyproject.toml (line length 119); `ruff check --fix` applies the safe fixes.
lint: install-dev
	$(BIN)/ruff check .

bench: install-dev
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script --quick || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist *.egg-info
