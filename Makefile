# tunesmith: `make demo` runs the bundled demo end to end; `make test` runs the whole suite.
# Both build .venv first (torch's CPU wheel installed before anything else can pull a CUDA build).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# What `make demo` needs (curation, the risk checks, energy); `make test` adds every extra.
DEMO_EXTRAS := curation,checks,energy
TEST_EXTRAS := curation,ui,tracking,energy,tune,checks,export,dev
TORCH_VERSION ?= 2.13.0
# flwr's and ray's own requirements that do not conflict with the lock (see setup), and opacus
# (federated.privacy's accountant; needs torch>=2.6, so it keeps the pinned torch).
FEDERATED_DEPS := iterators pycryptodome uv tomli tomli-w pathspec \
  prompt-toolkit sqlalchemy alembic jsonschema msgpack filelock opacus

.PHONY: setup demo test lint bench clean lock browser

setup: $(STAMP)

$(DEMO_STAMP): pyproject.toml Makefile constraints.txt
	@# Offline WordNet (synonym augmentation) from Debian's wordnet-base, when we may install it.
	@if [ ! -d /usr/share/wordnet ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q wordnet-base >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wordnet-base >/dev/null 2>&1) || \
	  echo "note: wordnet-base not installed; WordNet synonym augmentation will be unavailable"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[$(DEMO_EXTRAS)]"
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[$(TEST_EXTRAS)]"
	@# federated (flwr + ray): flwr 1.42 caps typer, rich, protobuf, packaging and fastapi below
	@# our lock (and grpcio-health-checking caps protobuf below 7) but they run with it
	@# (tests/test_federated.py), so they go in without their caps.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt flwr ray grpcio-health-checking
	$(BIN)/pip install --quiet -c constraints.txt $(FEDERATED_DEPS)
	touch $(STAMP)

demo: $(DEMO_STAMP)
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

# Re-resolve the newest allowed versions in a scratch venv and pin them (deliberate upgrade).
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet torch==$(TORCH_VERSION)
	.venv-lock/bin/pip install --quiet -e ".[$(TEST_EXTRAS)]"
	.venv-lock/bin/pip install --quiet --no-deps flwr ray grpcio-health-checking
	.venv-lock/bin/pip install --quiet $(FEDERATED_DEPS)
	@{ sed -n '1,3p' constraints.txt; .venv-lock/bin/pip freeze --exclude-editable | \
	  grep -v -i -E '^(torch|tunesmith)==|^-e '; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-lock
	@echo "constraints.txt regenerated; run make test before committing it"

# Debian's chromium + chromium-driver for the UI's end-to-end browser tests (root only).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null); \
	  else echo "note: chromium not installed; the browser tests will be skipped"; fi; fi

clean:
	rm -rf $(VENV) runs .pytest_cache
