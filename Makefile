# Two commands do all the set-up (see README.md): `make test` for the whole suite, and the main job.
# Two environments: $(VENV), homeshore installed as users get it, and $(DEV_VENV), the suite's.
VENV ?= .venv
DEV_VENV ?= .venv-dev
PYTHON ?= python3
STAMP := $(VENV)/.installed
DEV_STAMP := $(DEV_VENV)/.installed
SOURCES := pyproject.toml setup.py $(shell find homeshore quality probe collector planning cli -name '*.py')

COMPILED := build/compiled

.PHONY: install dev check test test-compiled compiled bench clean

# A regular (non-editable) install, so the capture analyser is compiled by mypyc (setup.py; pure Python with one
# warning where there is no C compiler); installed again whenever the source changes.
$(STAMP): $(SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet '.[uk]'
	$(VENV)/bin/python install/engine.py
	touch $(STAMP)

# Editable, so pure Python (compiled modules would shadow the source): the suite tests the working tree.
$(DEV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(DEV_VENV)
	$(DEV_VENV)/bin/pip install --quiet --upgrade pip
	$(DEV_VENV)/bin/pip install --quiet -e '.[test,uk,server]'
	touch $(DEV_STAMP)

install: $(STAMP)

dev: $(DEV_STAMP)

# The main job: a readiness check of this machine's connection (SERVER: the URL of a `homeshore serve`).
# Without SERVER it runs against speedtest.net, which measures speeds only: a check that could not measure
# everything (exit 2) then says how to give the server.
check: $(STAMP)
	$(VENV)/bin/homeshore check $(if $(SERVER),--server $(SERVER)) $(if $(SERVER),,|| { code=$$?; \
	  [ $$code -ne 2 ] || echo "make check: no SERVER given, so only speeds against speedtest.net were tried;" \
	    "give your contact centre's server: make check SERVER=http://HOST:PORT" >&2; exit $$code; })

test: $(DEV_STAMP)
	scripts/install-system-deps
	$(DEV_VENV)/bin/python -m pytest
	$(MAKE) test-compiled

# The capture analyser's hot modules compiled by mypyc (setup.py) into $(COMPILED), beside the pure tree.
compiled: $(DEV_STAMP)
	rm -rf $(COMPILED)
	HOMESHORE_COMPILE=1 $(DEV_VENV)/bin/python setup.py -q build_py --build-lib $(COMPILED) build_ext --build-lib $(COMPILED)

# The compiled analyser's tests again, against the compiled build (tests/conftest.py puts it first on sys.path).
test-compiled: compiled
	HOMESHORE_IMPORT_FROM=$(abspath $(COMPILED)) $(DEV_VENV)/bin/python -m pytest -q tests/quality tests/cli/test_analyze.py

# What the README's set-up installs, in the environment it creates.
bench: $(STAMP)
	$(VENV)/bin/python bench/analyze_vs_tshark.py

clean:
	rm -rf $(VENV) $(DEV_VENV) build *.egg-info
