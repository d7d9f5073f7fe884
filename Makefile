# tunesmith: `make demo` runs the bundled demo end to end; `make test` runs the whole suite.
# Both build .venv first (torch's CPU wheel installed before anything else can pull a CUDA build).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@# Offline WordNet (synonym augmentation) from Debian's wordnet-base, when we may install it.
	@if [ ! -d /usr/share/wordnet ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q wordnet-base >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wordnet-base >/dev/null 2>&1) || \
	  echo "note: wordnet-base not installed; WordNet synonym augmentation will be unavailable"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/pip install --quiet -e ".[curation,checks,dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/tunesmith run --output runs/demo

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: setup
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/generate_throughput.py
	$(BIN)/python bench/curate_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
