# make serve: install, build $(DB) from $(SEEDS_DIR) when they changed, serve it.
# make test:  install with the test dependencies (and Chromium, where apt-get
#             can), then run the whole suite, browser tests included.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8001
SEEDS_DIR ?= seeds
DB ?= news.db
# Folders too, so that a deleted article also triggers a rebuild.
SEED_FILES := $(shell find $(SEEDS_DIR) -name '*.md' -o -type d 2>/dev/null)

CHROMIUM ?= /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-noto-cjk

.PHONY: serve test fuzz install browser bench clean

install: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(DB): $(BIN)/.installed build_db.py $(wildcard hkcnews/*.py) $(SEED_FILES)
	$(BIN)/python build_db.py --seeds $(SEEDS_DIR) --db $(DB)

serve: $(DB)
	$(BIN)/python -m hkcnews.serve $(DB) --port $(PORT)

# The browser tests drive Debian's Chromium; fonts-noto-cjk makes the
# Chinese in their screenshots legible. Installed when missing and apt-get
# can run (root); otherwise the tests say how (and fail under CI=1).
browser:
	@if ! dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y $(BROWSER_PACKAGES) >/dev/null || \
	      { apt-get update >/dev/null && apt-get install -y $(BROWSER_PACKAGES) >/dev/null; }; \
	  else \
	    echo "Browser tests need: sudo apt-get install $(BROWSER_PACKAGES)"; \
	  fi; \
	fi

test: $(BIN)/.installed browser
	$(BIN)/python -m pytest

# The property tests with fresh random seeds and ten times the examples
# (CI runs them derandomized); a failure found becomes an @example.
fuzz: $(BIN)/.installed
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_fuzz.py

bench: $(BIN)/.installed
	$(BIN)/python bench/run.py --files $(or $(N),100000)

clean:
	rm -rf $(VENV) news.db news.db.inspect.json .pytest_cache test-output
