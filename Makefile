# make serve: install, build $(DB) from $(SEEDS_DIR) when they changed, serve it.
# make test:  install with the test dependencies and run the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8001
SEEDS_DIR ?= seeds
DB ?= news.db
# Folders too, so that a deleted article also triggers a rebuild.
SEED_FILES := $(shell find $(SEEDS_DIR) -name '*.md' -o -type d 2>/dev/null)

.PHONY: serve test install bench clean

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

test: $(BIN)/.installed
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/run.py --articles $(or $(N),100000)

clean:
	rm -rf $(VENV) news.db .pytest_cache
