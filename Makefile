# Every target creates and uses .venv itself, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED_GEODATA := $(abspath ../shared/geodata)
export PLACEMENT_GEODATA_DIR ?= $(if $(wildcard $(SHARED_GEODATA)/dk_postcodes.csv),$(SHARED_GEODATA),)
DEMO_DIR := var/demo

.PHONY: install run test check bench demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/placement generate --children 400 --families 600 --institutions 80 --seed 7 --out $(DEMO_DIR)

run: demo
	$(BIN)/python -m api.demo --data $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks rank
	$(BIN)/python -m benchmarks batch
	$(BIN)/python -m benchmarks api
	$(BIN)/python -m benchmarks whatif

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
