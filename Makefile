# The README's two quick-start commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint bench chaos clean image image-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/generate.py landing_zone
	$(BIN)/lakectl ingest landing_zone || [ $$? -eq 4 ]
	$(BIN)/lakectl promote all
	$(BIN)/lakectl report --format html --out reports/lakectl-report.html

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/mypy

# Two workers or more (pytest-xdist), a module per worker at a time: module fixtures are built once.
PYTEST_WORKERS ?= auto
test: lint
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

# The long-running checks `make test` leaves out (CI runs them after it).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow -n $(PYTEST_WORKERS) --dist loadfile

# kill -9 at every fault point over LAKECTL_CHAOS_ROUNDS seeded rounds (and as many random moments)
LAKECTL_CHAOS_ROUNDS ?= 20
chaos: $(STAMP)
	LAKECTL_CHAOS_ROUNDS=$(LAKECTL_CHAOS_ROUNDS) $(BIN)/python -m pytest -q -m chaos

# The container image (podman or docker, whichever is here; see deploy/image.sh for the base image).
IMAGE ?= lakectl:0.1.0

image:
	deploy/image.sh $(IMAGE)

image-test: image $(STAMP)
	LAKECTL_IMAGE=$(IMAGE) $(BIN)/python -m pytest -q -m image tests/test_image.py

# Every benchmark, one table (bench/run.py; --quick for tiny sizes)
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) delta_lake/* landing_zone/*
