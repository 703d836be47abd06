# Entry points of the course. README.md names the two that do everything: `make book`, `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MATHJAX_VERSION := 3.2.2
MATHJAX := _vendor/mathjax/tex-chtml.js
PACKAGE_STAMP := _build/.seqlab-stamp
# Chapters and tests run several kernels at once on small machines: one BLAS thread each.
export OMP_NUM_THREADS ?= 1
export TQDM_DISABLE ?= 1
# nbgrader and jupyter-book call tools of the environment (alembic, jupyter) by name.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help book test lab release grade-demo clean
.DEFAULT_GOAL := help

help:
	@echo "make book        build the website into _build/html (creates .venv when needed)"
	@echo "make test        run every test (creates .venv when needed)"
	@echo "make lab         JupyterLab on the student exercises in notebooks/"
	@echo "make release     regenerate the student notebooks in notebooks/ from solutions/"
	@echo "make grade-demo  autograde three demo submissions of exercise 01 and print their scores"
	@echo "make clean       remove .venv, _build and the vendored MathJax"

# The environment is rebuilt whenever requirements.txt or pyproject.toml is newer than it.
$(INSTALLED): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# MathJax is served from the site itself (copied to _static/mathjax by Sphinx), so that math renders offline. It comes from the npm
# registry at build time and is never committed.
$(MATHJAX):
	@rm -rf _vendor/mathjax && mkdir -p _vendor/mathjax
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null \
	  && tar xzf mathjax-$(MATHJAX_VERSION).tgz && cp -r package/es5/. $(CURDIR)/_vendor/mathjax/ \
	  && rm -rf $$tmp
	@test -f $@ && echo "vendored MathJax $(MATHJAX_VERSION) into _static/mathjax"

# jupyter-cache keys a chapter on its code cells only; the chapters import seqlab, so a change
# to the package must re-execute them: drop the cache whenever a package file is newer.
$(PACKAGE_STAMP): $(wildcard seqlab/*.py)
	@rm -rf _build/.jupyter_cache && mkdir -p _build && touch $@

book: $(INSTALLED) $(MATHJAX) $(PACKAGE_STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book is in _build/html: open file://$(CURDIR)/_build/html/index.html"

test: $(INSTALLED) $(MATHJAX)
	$(BIN)/python -m pytest

lab: $(INSTALLED)
	$(BIN)/jupyter lab --notebook-dir=notebooks

release: $(INSTALLED)
	$(BIN)/python -m autograder.release

grade-demo: $(INSTALLED)
	$(BIN)/python -m autograder.demo

clean:
	rm -rf $(VENV) _build _vendor
