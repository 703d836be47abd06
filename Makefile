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

.PHONY: help book test lab hub release grade grade-demo bench bench-grade clean system-book system-test
.DEFAULT_GOAL := help

help:
	@echo "make book        build the website into _build/html (creates .venv when needed)"
	@echo "make test        run every test (creates .venv when needed)"
	@echo "make lab         JupyterLab on the student exercises in notebooks/ (Validate, chapters as notebooks)"
	@echo "make hub         (as root) a JupyterHub for a class: accounts, exchange, then the hub on HUB_IP:HUB_PORT"
	@echo "make release     regenerate the student notebooks in notebooks/ from solutions/"
	@echo "make grade       grade autograder/var/submitted/ in the sandbox, in parallel; print a summary (ASSIGNMENT=<id> for one)"
	@echo "make grade-demo  grade three demo submissions of exercise 01 in the sandbox and print their scores"
	@echo "make bench       time the NumPy layers against PyTorch, the book's builds, the autograder and a 300-submission class load; writes benchmarks/RESULTS.md"
	@echo "make bench-grade time 60 demo submissions: plain serial nbgrader against the sandboxed parallel grader"
	@echo "make clean       remove .venv, _build and the vendored MathJax"

# Debian packages the two commands need, as command:package pairs, checked in their first seconds:
# `make book` vendors MathJax with npm; `make test` also drives Chromium, sandboxes the grader with
# bubblewrap and starts a PostgreSQL server (Debian keeps initdb off PATH, in /usr/lib/postgresql).
# As root, or with sudo that needs no password, they are installed with apt-get; otherwise the
# command stops at once and prints the line that installs them. USER_ID is for the tests.
BOOK_TOOLS := npm:npm
TEST_TOOLS := npm:npm chromium:chromium bwrap:bubblewrap initdb:postgresql
USER_ID ?= $(shell id -u)
define install_missing
	@missing=""; \
	for pair in $(1); do \
	  tool=$${pair%%:*}; package=$${pair#*:}; \
	  command -v $$tool >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/$$tool" >/dev/null \
	    || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$(USER_ID)" = 0 ]; then sudo=""; \
	  elif sudo -n true 2>/dev/null; then sudo="sudo"; \
	  else echo "Missing system packages:$$missing. Install them, then run make again:"; \
	       echo "    sudo apt-get install -y$$missing"; exit 1; fi; \
	  command -v apt-get >/dev/null || { echo "Missing:$$missing; install them with your system's package manager."; exit 1; }; \
	  echo "Installing the missing system packages:$$missing"; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends$$missing; \
	fi
endef

system-book:
	$(call install_missing,$(BOOK_TOOLS))

system-test:
	$(call install_missing,$(TEST_TOOLS))

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
# to the package must re-execute them: drop the cache whenever a package file is newer, and
# Sphinx's doctrees with it, or Sphinx would re-read (and so re-execute) only the changed pages.
$(PACKAGE_STAMP): $(wildcard seqlab/*.py)
	@rm -rf _build/.jupyter_cache _build/.doctrees && mkdir -p _build && touch $@

# TQDM_DISABLE: a progress bar run at build time would be frozen into the static page.
book: system-book $(INSTALLED) $(MATHJAX) $(PACKAGE_STAMP)
	TQDM_DISABLE=1 $(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book is in _build/html: open file://$(CURDIR)/_build/html/index.html"

# The book is built first, alone: the chapters' execution times are asserted against their
# budgets, and measured while pytest's workers compete for the cores they would be too high.
test: system-test book
	$(BIN)/python -m pytest

# lab_config/ holds the server settings (open on notebooks/, chapters open as notebooks through
# jupytext, no news fetched) and nbgrader's (the course config plus a local exchange).
# LAB_ARGS: more arguments for `jupyter lab` (the browser tests pass a port, a token and a root
# folder); LAB_CONFIG_PATH: folders to search before lab_config (a test's own nbgrader_config.py).
# Jupyter refuses to run as root unless told to; containers and CI machines run everything as root,
# so there the command says so and passes --allow-root.
LAB_ARGS ?=
LAB_CONFIG_PATH ?=
lab: $(INSTALLED)
	@mkdir -p autograder/var/exchange
	@if [ "$$(id -u)" = 0 ]; then echo "make lab: running as root (a container or a CI machine): passing --allow-root to Jupyter"; fi
	JUPYTER_CONFIG_PATH=$(if $(LAB_CONFIG_PATH),$(LAB_CONFIG_PATH):)$(CURDIR)/lab_config \
	  $(BIN)/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

# A JupyterHub for a class (book/jupyterhub.md): as root, it creates the accounts (passwords in
# $(HUB_ROOT)/accounts.txt), nbgrader's exchange with one inbound folder per student, and the
# instructor's course folder (autograder/hub/setup_class.py), then runs the hub in the foreground.
# The proxy, configurable-http-proxy, is installed from npm into _vendor/hub at the versions of
# autograder/hub/package-lock.json.
HUB_ROOT ?= /srv/seqmodels
HUB_IP ?= 127.0.0.1
HUB_PORT ?= 8000
HUB_INSTRUCTOR ?= instructor
HUB_STUDENTS ?= student1 student2 student3
HUB_PROXY := _vendor/hub/.installed
$(HUB_PROXY): autograder/hub/package.json autograder/hub/package-lock.json
	@rm -rf _vendor/hub && mkdir -p _vendor/hub && cp $^ _vendor/hub/
	cd _vendor/hub && npm ci --silent --no-audit --no-fund
	@touch $@
hub: system-book $(INSTALLED) $(HUB_PROXY)
	$(BIN)/python -m autograder.hub.setup_class --root $(HUB_ROOT) --instructor $(HUB_INSTRUCTOR) --students $(HUB_STUDENTS)
	SEQMODELS_HUB_ROOT=$(HUB_ROOT) SEQMODELS_HUB_IP=$(HUB_IP) SEQMODELS_HUB_PORT=$(HUB_PORT) \
	  exec $(BIN)/jupyterhub -f autograder/hub/jupyterhub_config.py

release: $(INSTALLED)
	$(BIN)/python -m autograder.release

# Exercise ids to grade (default: every exercise with submissions); WORKERS=N caps the parallel graders.
ASSIGNMENT ?=
WORKERS ?=
grade: $(INSTALLED)
	$(BIN)/python -m autograder.grade $(ASSIGNMENT) $(if $(WORKERS),--workers $(WORKERS))

grade-demo: $(INSTALLED)
	$(BIN)/python -m autograder.demo

# BENCH_ARGS=--suite also times `make test` (only below load average 2.5; --force-suite whatever the load).
BENCH_ARGS ?=
bench: $(INSTALLED)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

bench-grade: $(INSTALLED)
	$(BIN)/python -m benchmarks.autograde

clean:
	rm -rf $(VENV) _build _vendor
