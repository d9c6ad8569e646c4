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

# Small matrices: BLAS threads cost more than they save (measured 10-20x slower on a loaded
# 2-core machine). Applies to the book build, the tests, grading kernels and the benchmark.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: book test env test-env browser sandbox postgres exercises bench lab clean

book: $(BOOK_STAMP)
	$(BIN)/python tools/fetch_mathjax.py
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: $(TEST_STAMP) browser sandbox postgres book
	$(BIN)/python -m pytest

# The fast tier for everyday work (under two minutes): the tests that need no nbgrader run, no
# sandbox, no built book, no browser and no server (markers set per module in tests/conftest.py).
.PHONY: unit lock
UNIT := not (nbgrader or sandbox or book or browser or server or slow)
unit: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "$(UNIT)" $(PYTEST_ARGS)

# Pins of requirements*.txt := the versions installed in .venv (tools/lock.py; LOCK_ARGS=--check
# only reports).
lock: $(BIN)/python
	$(BIN)/python tools/lock.py $(LOCK_ARGS)

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

# Headless Chromium and a CJK font (the glossary is bilingual) for the browser tests
# (Debian packages; needs root or sudo).
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh | grep -q . ; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends \
	    chromium chromium-driver fonts-dejavu-core fonts-wqy-microhei; }

# bubblewrap: every graded notebook runs in a sandbox (rnncourse_grader/sandbox.py); Debian
# package, needs root or sudo the first time.
sandbox:
	@{ command -v bwrap >/dev/null 2>&1 && command -v prlimit >/dev/null 2>&1 ; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends \
	    bubblewrap util-linux; }

# PostgreSQL server binaries for the shared-gradebook tests (they start their own server with
# initdb/pg_ctl in a temporary directory); Debian package, needs root or sudo the first time.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends postgresql; }

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_cells.py

# --- graded exercises (nbgrader; the repository root is the course directory) ----------------
#   make exercises                   regenerate exercises/ from solutions/ (commit the result)
#   make check NB=exercises/02_forward_pass/02_forward_pass.ipynb   check a notebook like the grader
#   make lab                         JupyterLab with nbgrader's extensions (Validate, Formgrader)
#   make grade [A=02_forward_pass]   autograde new and changed submissions of submitted/, in
#        [W=4] [FORCE=1]             parallel (W workers, default: cores; FORCE=1: all again),
#        [SCHEDULER=host:8786]       or on a Dask scheduler; then feedback/ and grades.csv;
#        [DB_URL=postgresql+psycopg://...]  the gradebook on PostgreSQL (default: SQLite gradebook.db)
#   make grade-watch [A=...] [INTERVAL=5]  grade on submit: collect new submissions from the
#        exchange every INTERVAL s, autograde them, release their feedback (Ctrl-C stops)
#   make release A=02_forward_pass   copy exercises/<A>/ to the exchange (nbgrader release_assignment)
#   make collect A=02_forward_pass   the latest submission of each student into submitted/
#   make feedback A=02_forward_pass  feedback reports again (after hand grading), released to the exchange
#   make export                      grades.csv from the gradebook
#   make nbgrader ARGS="db student import roster.csv"   any nbgrader command, in the course directory
#   make bench-grade [BENCH_ARGS=...] stock nbgrader vs this grader (1, 2 workers, Dask), nb/min
COURSE := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python tools/course.py
ALLOW_ROOT = $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

.PHONY: check grade grade-watch bench-grade release collect feedback export nbgrader
NBGRADER_DB = $(if $(DB_URL),"--CourseDirectory.db_url=$(DB_URL)")
NEED_A = @test -n "$(A)" || { echo "usage: make $@ A=<assignment>, e.g. make $@ A=02_forward_pass"; exit 2; }

exercises: $(BOOK_STAMP)
	$(COURSE) exercises

check: $(BOOK_STAMP) sandbox
	@test -n "$(NB)" || { echo "usage: make check NB=exercises/<assignment>/<assignment>.ipynb"; exit 2; }
	@$(COURSE) check "$(NB)"

lab: $(BOOK_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/exercises $(ALLOW_ROOT) $(LAB_ARGS)

grade: $(BOOK_STAMP) sandbox
	$(COURSE) grade $(A) $(if $(W),--workers $(W)) $(if $(FORCE),--force) \
	  $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(DB_URL),--db-url "$(DB_URL)")

grade-watch: $(BOOK_STAMP) sandbox
	$(COURSE) watch $(A) $(if $(INTERVAL),--interval $(INTERVAL)) $(if $(W),--workers $(W)) \
	  $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(DB_URL),--db-url "$(DB_URL)")

# nbgrader commands through tools/course.py: the venv's nbgrader, its bin/ on PATH (nbgrader runs
# `alembic`), the gradebook checked first.
release: $(BOOK_STAMP)
	$(NEED_A)
	$(COURSE) nbgrader release_assignment $(A) $(NBGRADER_DB)

collect: $(BOOK_STAMP)
	$(NEED_A)
	$(COURSE) nbgrader collect $(A) --update $(NBGRADER_DB)

feedback: $(BOOK_STAMP)
	$(NEED_A)
	$(COURSE) nbgrader generate_feedback $(A) --force $(NBGRADER_DB)
	$(COURSE) nbgrader release_feedback $(A) $(NBGRADER_DB)

export: $(BOOK_STAMP)
	$(COURSE) nbgrader export --to grades.csv $(NBGRADER_DB)

nbgrader: $(BOOK_STAMP)
	$(COURSE) nbgrader $(ARGS)

bench-grade: $(BOOK_STAMP) sandbox
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_autograde.py $(BENCH_ARGS)

clean:
	rm -rf _build .pytest_cache
