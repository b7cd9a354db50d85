# The two commands of the README: `make run` and `make test`. Both create and reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench tools clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "hangup needs Python >= 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hangup serve --demo

lint: $(STAMP)
	$(BIN)/ruff check hangup tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict hangup

tools:
	@sh scripts/ensure-test-tools

test: lint typecheck tools
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/catalog.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
