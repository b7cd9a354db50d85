# The two commands of the README: `make run` and `make test`. Both create and reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NATIVE := hangup/native.json
# the sources hangup/native.txt lists: a change to one compiles them again
NATIVE_SOURCES := $(shell sed -e 's/\#.*//' hangup/native.txt)

.PHONY: run test lint typecheck bench tools clean native

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "hangup needs Python >= 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# The SIP per-message modules compiled with mypyc (hangup/native.py). Without a C compiler this says so and
# the sources run; under CI tests/test_native.py requires the build.
$(NATIVE): $(STAMP) hangup/native.txt $(NATIVE_SOURCES) scripts/build-native
	$(BIN)/python scripts/build-native || echo "make native: not compiled, the SIP modules run as plain Python"

native: $(NATIVE)

run: $(STAMP) $(NATIVE)
	$(BIN)/hangup serve --demo

lint: $(STAMP)
	$(BIN)/ruff check hangup tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict hangup

tools:
	@sh scripts/ensure-test-tools

test: lint typecheck tools $(NATIVE)
	$(BIN)/python -m pytest

bench: $(STAMP) $(NATIVE)
	$(BIN)/python bench/catalog.py

clean:
	test ! -x $(BIN)/python || $(BIN)/python scripts/build-native --clean
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
