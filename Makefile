# make serve: install, build news.db from seeds/ (only when they changed), serve it.
# make test:  install with the test extras and run the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8001
SEEDS := $(shell find seeds -name '*.md' 2>/dev/null) $(shell find seeds -type d 2>/dev/null)

.PHONY: serve test clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

news.db: $(BIN)/.installed build_db.py $(wildcard hkcnews/*.py) $(SEEDS)
	$(BIN)/python build_db.py --seeds seeds --db news.db

serve: news.db
	$(BIN)/datasette serve news.db -m metadata.yml --host 127.0.0.1 --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) news.db .pytest_cache
