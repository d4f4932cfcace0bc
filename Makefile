# Every target sets itself up: a virtual environment in .venv with the pinned
# dependencies, reinstalled only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[train,dev,voices]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# The main job: train every app on its embedded default (demo preset), export,
# run each .tflite on sample inputs, print a summary table. Finished apps are skipped.
demo: setup
	$(BIN)/rnnapps demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/rnnapps bench --train-missing --train

clean:
	rm -rf saved_models/*/ saved_models/.*.run data/*/ .pytest_cache
