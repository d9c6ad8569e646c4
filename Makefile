# rnncourse: two commands do all the set-up on a fresh machine with python3.
#   make book   build the online book into _build/html (creates .venv on first use)
#   make test   run every test (creates .venv, installs the test extras and Chromium)
# Everything is installed from the pinned requirements*.txt files.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
BOOK_STAMP := $(VENV)/.installed-book
TEST_STAMP := $(VENV)/.installed-test
JB_FLAGS ?= -W -n --keep-going

.PHONY: book test env test-env browser exercises bench lab clean

book: $(BOOK_STAMP)
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: $(TEST_STAMP) browser book
	$(BIN)/python -m pytest

env: $(BOOK_STAMP)
test-env: $(TEST_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BOOK_STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

$(TEST_STAMP): requirements-test.txt $(BOOK_STAMP)
	$(PIP) install -r requirements-test.txt
	touch $@

# Headless Chromium for the browser tests (Debian packages; needs root or sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core; }

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_cells.py

clean:
	rm -rf _build .pytest_cache
