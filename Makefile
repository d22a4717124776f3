# The two commands of the README: `make book` and `make test`. Both set up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup book test lab clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 needed, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install everything (done by every target below)

book: setup  ## execute every notebook and build the HTML book
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo
	@echo "The book is ready: open file://$(CURDIR)/_build/html/index.html"

test: setup  ## every test: unit, property, doctests, notebooks (nbval), clean warning-free book build
	$(BIN)/python -m pytest

lab: setup  ## JupyterLab on the chapters
	$(BIN)/jupyter lab chapters

clean:  ## remove the built book, caches and test artifacts (keeps .venv)
	-test -x $(BIN)/jupyter-book && $(BIN)/jupyter-book clean --all .
	rm -rf _build .pytest_cache .hypothesis test-artifacts
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
