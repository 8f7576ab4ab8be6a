# Two commands set everything up on a fresh machine with Python 3.11 and pip:
#   make demo   runs the main job on the embedded data
#   make test   runs the test suite
# Each makes its own virtual environment in .venv and is safe to run twice.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Keras 3 runs on PyTorch in the tests: no TensorFlow needed.
export KERAS_BACKEND := torch

.PHONY: demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed-run
	$(BIN)/lstmlab demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info

# make bench   times lstmlab against PyTorch and Keras 3 (its peers, from the test
#              extra: torch==2.13.0 CPU, keras) and writes BENCHMARKS.md (~4-7 min).
#              tensorflow-cpu is used only if already installed, never installed here.
#              BENCH_ARGS passes options: make bench BENCH_ARGS="--quick --only W1,W3"
.PHONY: bench
BENCH_ARGS ?=

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks.run --out BENCHMARKS.md $(BENCH_ARGS)
