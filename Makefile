# Two commands set everything up on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test clean system-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes, so `make test` also updates an old .venv.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/surge run scenarios/anca-2020.toml --out out/anca-2020

# The Debian packages the tests use (nginx, Chromium, node): installed when missing, or one line says which.
system-packages:
	@tools/system-packages

test: $(STAMP) system-packages
	$(BIN)/lint-imports
	$(BIN)/python -m pytest --durations=30

clean:
	rm -rf $(VENV) out
