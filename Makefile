# Two commands do all the set-up (see README.md): `make test` for the whole suite, and the main job.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

COMPILED := build/compiled

.PHONY: install check test test-compiled compiled bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,uk,server]'
	touch $(STAMP)

install: $(STAMP)

# The main job: a readiness check of this machine's connection (SERVER: the URL of a `homeshore serve`).
check: $(STAMP)
	$(VENV)/bin/homeshore check $(if $(SERVER),--server $(SERVER))

test: $(STAMP)
	scripts/install-system-deps
	$(VENV)/bin/python -m pytest
	$(MAKE) test-compiled

# The capture analyser's hot modules compiled by mypyc (setup.py) into $(COMPILED), beside the pure tree.
compiled: $(STAMP)
	rm -rf $(COMPILED)
	HOMESHORE_COMPILE=1 $(VENV)/bin/python setup.py -q build_py --build-lib $(COMPILED) build_ext --build-lib $(COMPILED)

# The suite again, against the compiled build (tests/conftest.py puts it first on sys.path).
test-compiled: compiled
	HOMESHORE_IMPORT_FROM=$(abspath $(COMPILED)) $(VENV)/bin/python -m pytest -q tests/quality tests/cli

bench: compiled
	PYTHONPATH=$(abspath $(COMPILED)) $(VENV)/bin/python bench/analyze_vs_tshark.py

clean:
	rm -rf $(VENV) build *.egg-info
