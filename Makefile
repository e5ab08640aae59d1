# `make repro`: install into .venv and run the whole DVC pipeline on the embedded synthetic corpus.
# `make test`:  install into .venv and run the test suite.
# `make lint`:  ruff (lint and format check), as CI runs it.
VENV := .venv
BIN := $(VENV)/bin
# pytest-xdist workers for `make test`; each keeps to one thread (tests/conftest.py). Three on two cores: the
# third fills the waits (a locked store, a browser, DVC queue workers) while the other two compute.
TEST_WORKERS ?= 3

.PHONY: install repro test lint bench ui

$(BIN)/brain-brr: pyproject.toml scripts/install.sh
	bash scripts/install.sh
	@touch $@

install: $(BIN)/brain-brr

repro: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_ingest.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_train.py

ui: install
	@echo "MLflow UI, the brain-brr runs table: $$($(BIN)/python -m brain_brr.tracking.ui 5000) (Ctrl-C to stop)"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --default-artifact-root $(CURDIR)/mlartifacts --host 127.0.0.1 --port 5000
