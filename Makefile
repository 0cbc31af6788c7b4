# Two commands set everything up on a fresh machine: `make train` and `make test`.
# Both create (or reuse) .venv. On a CPU machine torch is pinned to the local CPU wheel;
# a GPU user with their own CUDA torch can run `pip install -e .` in their environment instead.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed
ARGS    ?=

.PHONY: venv train eval test test-slow lint bench bench-tiny clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## The main job: train and evaluate on the embedded synthetic data (CPU-sized, a few minutes).
train: $(STAMP)
	$(BIN)/ampose-train $(ARGS)

eval: $(STAMP)
	$(BIN)/ampose-eval $(ARGS)

## The fast test tier (CI); `make test-slow` runs the slow tier too.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(ARGS)

## pyflakes, pycodestyle and bugbear over the package, tests and experiment scripts (pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff --version >/dev/null 2>&1 || $(BIN)/pip install -q -e ".[lint]"
	$(BIN)/ruff check src tests experiments

bench: $(STAMP)
	$(BIN)/ampose-bench $(ARGS)

bench-tiny: $(STAMP)
	$(BIN)/ampose-bench --tiny $(ARGS)

clean:
	rm -rf outputs multirun .pytest_cache
