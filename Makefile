# The two commands of the README (`make demo`, `make test`) create .venv themselves when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint ci bench chaos clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is required; found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/freshsales-destination demo

# pytest exits 5 when it collects no test; that is reported, not hidden as a pass of something.
test: $(STAMP)
	@rc=0; $(BIN)/python -m pytest --cov --cov-fail-under=100 || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

ci: test lint demo

bench: $(STAMP)
	$(BIN)/python -m bench.translate_bench
	$(BIN)/python -m bench.client_bench
	$(BIN)/python -m bench.delivery_bench
	$(BIN)/python -m bench.quota_bench

# SIGKILLs and Freshsales faults for a few minutes; writes bench/results/chaos.json.
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos_bench --minutes 3

clean:
	rm -rf $(VENV) .coverage .pytest_cache .mypy_cache .ruff_cache .hypothesis
