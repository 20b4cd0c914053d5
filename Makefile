# make serve: install, build $(DB) from $(SEEDS_DIR) when they changed, serve it.
# make test:  install with the test dependencies (and Chromium, where apt-get
#             can), then run the whole suite, browser tests included.
# make test-next: the same suite on Datasette's newest 1.0 alpha and its
#             plugin releases, in a virtual environment of its own (.venv-next);
#             NEXT=1 does that for any target (make serve NEXT=1).
# make lint:  the formatter and linter (ruff), as CI runs them.
# make archive: clone the whole public backup (or update the clone), build
#             it with a progress bar, serve it.
PYTHON ?= python3
LOCK_DIR := requirements
ifdef NEXT
# The 1.0 line: the same package, with the alphas datasette-1.0.in asks for.
VENV := .venv-next
LOCK := $(LOCK_DIR)/datasette-1.0-test.txt
else
VENV := .venv
LOCK := $(LOCK_DIR)/datasette-0.65-test.txt
endif
BIN := $(VENV)/bin
PORT ?= 8001
SEEDS_DIR ?= seeds
DB ?= news.db
# Folders too, so that a deleted article also triggers a rebuild.
SEED_FILES := $(shell find $(SEEDS_DIR) -name '*.md' -o -type d 2>/dev/null)

UV_COMPILE := UV_CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/uv pip compile --quiet --universal --python-version 3.10

CHROMIUM ?= /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-noto-cjk

# The whole backup: a shallow clone in a folder git ignores, and its database.
ARCHIVE_REPO ?= https://github.com/hkarchivist/hkcnews-article-archive
ARCHIVE_DIR ?= hkcnews-article-archive
ARCHIVE_DB ?= full/news.db

.PHONY: help serve test test-next test-fast lint lock fuzz install browser bench bench-ab clean archive archive-db

# The targets, each with the line after its ## (make help).
help:
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

install: $(BIN)/.installed ## set up .venv/ with the locked versions (NEXT=1: .venv-next/, Datasette 1.0)

# Exactly the versions in the lock (make lock writes it from pyproject.toml's
# ranges), then this package without its dependencies: every machine that
# runs make serve or make test has what the tests ran with.
$(BIN)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# The locks of both lines, for Python 3.10 and later on any platform: what a
# deploy installs (the package's dependencies) and what make install and
# make test-next install (with the test tools). The 0.65 line is what
# pyproject.toml's ranges give pip by default; the 1.0 line adds the alphas.
lock: $(BIN)/.installed ## write requirements/ from pyproject.toml's ranges (uv)
	$(UV_COMPILE) pyproject.toml -o $(LOCK_DIR)/datasette-0.65.txt
	$(UV_COMPILE) pyproject.toml --extra test -o $(LOCK_DIR)/datasette-0.65-test.txt
	$(UV_COMPILE) pyproject.toml $(LOCK_DIR)/datasette-1.0.in -o $(LOCK_DIR)/datasette-1.0.txt
	$(UV_COMPILE) pyproject.toml $(LOCK_DIR)/datasette-1.0.in --extra test -o $(LOCK_DIR)/datasette-1.0-test.txt

$(DB): $(BIN)/.installed build_db.py $(wildcard hkcnews/*.py hkcnews/build/*.py) $(SEED_FILES)
	$(BIN)/python build_db.py --seeds $(SEEDS_DIR) --db $(DB)

serve: $(DB) ## build news.db from seeds/ when it changed, serve it at http://127.0.0.1:8001 (PORT=…)
	$(BIN)/python -m hkcnews.serve $(DB) --port $(PORT)

archive: archive-db ## clone (or update) the whole public backup, build it, serve it
	$(BIN)/python -m hkcnews.serve $(ARCHIVE_DB) --port $(PORT)

# Clones only the newest commit (the files, not their history), or brings
# an earlier clone up to date (a shallow clone cannot merge, so it is reset
# to the backup's newest commit: the folder is a copy, not a place to edit);
# the build then reads only what changed.
archive-db: $(BIN)/.installed ## the same as archive, without serving
	@if [ -d $(ARCHIVE_DIR)/.git ]; then \
	  echo "Updating $(ARCHIVE_DIR) from $$(git -C $(ARCHIVE_DIR) remote get-url origin)"; \
	  git -C $(ARCHIVE_DIR) fetch --quiet --depth 1 origin HEAD && \
	  git -C $(ARCHIVE_DIR) reset --quiet --hard FETCH_HEAD; \
	else \
	  git clone --depth 1 $(ARCHIVE_REPO) $(ARCHIVE_DIR); \
	fi
	@n=$$(find $(ARCHIVE_DIR)/articles -name '*.md' 2>/dev/null | wc -l); \
	if [ "$$n" -eq 0 ]; then \
	  echo "$(ARCHIVE_DIR)/articles: no articles; is $(ARCHIVE_REPO) the backup?" >&2; exit 1; \
	fi; \
	echo "$(ARCHIVE_DIR): $$n files at commit $$(git -C $(ARCHIVE_DIR) rev-parse --short HEAD)"
	$(BIN)/python build_db.py --seeds $(ARCHIVE_DIR)/articles --db $(ARCHIVE_DB)

# The browser tests drive Debian's Chromium; fonts-noto-cjk makes the
# Chinese in their screenshots legible. Installed when missing and apt-get
# can run (root); otherwise the tests say how (and fail under CI=1).
browser: ## install Debian's chromium and CJK fonts for the browser tests (as root)
	@if ! dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y $(BROWSER_PACKAGES) >/dev/null || \
	      { apt-get update >/dev/null && apt-get install -y $(BROWSER_PACKAGES) >/dev/null; }; \
	  else \
	    echo "Browser tests need: sudo apt-get install $(BROWSER_PACKAGES)"; \
	  fi; \
	fi

test: $(BIN)/.installed browser ## the whole suite, browser tests included (what CI runs)
	$(BIN)/python -m pytest

# No browser, no server, no whole builds: under a minute.
test-fast: $(BIN)/.installed ## the fast tier of the suite
	$(BIN)/python -m pytest -m "not slow"

test-next: ## the whole suite on Datasette 1.0, in .venv-next/
	$(MAKE) test NEXT=1

# ruff, configured in pyproject.toml: `ruff format .` and `ruff check --fix .` mend most of it.
lint: $(BIN)/.installed ## ruff's formatter and linter, as CI runs them
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# The property tests with fresh random seeds and ten times the examples
# (CI runs them derandomized); a failure found becomes an @example.
fuzz: $(BIN)/.installed ## the property tests with fresh seeds, ten times the examples
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_fuzz.py

bench: $(BIN)/.installed ## the benchmark against stock Datasette (N=100000 files)
	$(BIN)/python bench/run.py --files $(or $(N),100000)

# REV before, the working tree after (or AFTER=<commit>; BASE= says the same),
# on N generated files (50,000 by default); K= URLs a page kind, ARGS= more
# of bench/ab.py's options (--seeds DIR, --json FILE, --rebuild).
bench-ab: $(BIN)/.installed ## every page kind and a whole download at REV and the working tree, with ratios (REV=…)
	@test -n "$(REV)" || { echo "usage: make bench-ab REV=<commit before the change> [AFTER=<commit>] [N=50000] [K=20]" >&2; exit 2; }
	$(BIN)/python bench/ab.py --before $(REV) $(if $(or $(AFTER),$(BASE)),--after $(or $(AFTER),$(BASE))) \
	  --files $(or $(N),50000) $(if $(K),--urls $(K)) $(ARGS)

clean: ## remove the virtual environments, news.db and test output
	rm -rf .venv .venv-next news.db news.db.inspect.json news.db.metadata.yml news.db.datasette.yml .pytest_cache test-output full
