# lnbook: `make book` builds the site, `make test` runs the whole suite.
# Both create or refresh .venv from the pinned requirements first, and node_modules from
# package-lock.json (npm ci): the partial plotly.js bundle, KaTeX's CSS and fonts, axe-core,
# Pyodide's core for the in-browser edition.

PYTHON ?= python3
# Python keeps each module it compiles (__pycache__, git-ignored), here even where the machine
# says not to (PYTHONDONTWRITEBYTECODE=1): otherwise every process of make test (the two
# workers, every chapter's kernel, the build) compiles again each module it imports. So the
# install does not compile all of the environment's 14,000 files (uv never does), and the
# modules the book and the tests import compile once, on first import.
unexport PYTHONDONTWRITEBYTECODE
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# The reader edition: the chapters as rendered notebooks with their outputs (lnbook.book.editions).
READER := _build/reader
# The folder `make lab` opens: the reader edition; `make lab DIR=book/` opens the MyST
# sources (for authors), `make lab DIR=_build/student` the student notebooks.
DIR    ?= $(READER)
# More options for JupyterLab: make lab LAB_ARGS="--no-browser --port 8890 --ip 127.0.0.1"
LAB_ARGS ?=
# -W: warnings are errors (a dropped figure is a warning); -n: nitpicky cross-references.
JB_BUILD := $(BIN)/jupyter-book build -W -n --keep-going .

.PHONY: book test serve lab reader lint format clean bench student nbgrader weigh pdf

# uv installs the pins: the same packages pip installs (pip freeze compared), from the
# same places, on a fresh machine in 7 s where pip took 35 s. It does not read pip's
# configuration, so it is given pip's find-links: where a machine keeps wheels of its own
# (torch's CPU build, here). Should uv fail, pip installs them.
UV := uv==0.13.9
FIND_LINKS := $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(UV)

# Stamps make the install step re-run only when a pin file changes.
INSTALL = $(BIN)/uv pip install -q --python $(BIN)/python $(foreach f,$(FIND_LINKS),--find-links $(f)) $(1) \
	|| $(BIN)/python -m pip install -q --no-compile $(1)
$(VENV)/.runtime-installed: requirements.txt pyproject.toml | $(BIN)/python
	$(call INSTALL,-r requirements.txt -e .)
	touch $@

# requirements-dev.txt includes requirements.txt: one run installs both.
$(VENV)/.dev-installed: requirements-dev.txt requirements.txt pyproject.toml | $(BIN)/python
	$(call INSTALL,-r requirements-dev.txt -e .)
	touch $(VENV)/.runtime-installed $@

# Front-end packages at the locked versions, and the site's plotly.js bundle built from them.
ASSETS := node_modules/.lnbook/plotly.min.js
$(ASSETS): package.json package-lock.json lnbook/book/static/plotly-bundle.js
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build

# The site, then its in-browser edition (JupyterLite, Pyodide) in _build/html/lite
# (lnbook/book/lite.py): the reader notebooks from the execution cache; the wheels it serves are
# downloaded from PyPI once, into _build/wheels.
book: $(VENV)/.runtime-installed $(ASSETS)
	$(JB_BUILD)
	$(BIN)/python -m lnbook.book.lite build _build/html/lite
	@echo
	@echo "Built the site in _build/html. View it with: make serve  (http://127.0.0.1:$(PORT)/)"

# The Python and the npm installs side by side (npm mostly waits on the registry).
test:
	@$(MAKE) --no-print-directory -j2 $(VENV)/.dev-installed $(ASSETS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --durations=15

# The whole book as one PDF, _build/lnbook.pdf (lnbook/book/pdf.py): printed by Debian's chromium
# from the built site (built or refreshed first), through Playwright and pypdf
# (requirements-dev.txt). python -m lnbook.book.pdf --student OUT.pdf leaves the solutions out.
pdf: book $(VENV)/.dev-installed
	$(BIN)/python -m lnbook.book.pdf _build/lnbook.pdf

# Bytes, requests and first paint of every page of the built site (headless chromium).
weigh: $(VENV)/.dev-installed
	@test -f _build/html/index.html || { echo "No site yet: run make book first."; exit 1; }
	$(BIN)/python tests/sitekit.py

serve:
	@test -f _build/html/index.html || { echo "No site yet: run make book first."; exit 1; }
	@echo "Serving _build/html at http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# The reader edition, written from the chapters into _build/reader (never committed): the
# executed run's outputs and numbers, solutions folded. Chapters the execution cache lacks
# are executed first (a fresh clone: several minutes, once).
reader: $(VENV)/.runtime-installed
	$(BIN)/python -m lnbook.book.editions reader $(READER)

# JupyterLab on the reader edition (DIR=book/: the sources, opening as notebooks through
# jupytext). Its settings live inside .venv, so nothing in your home folder changes;
# etc/jupyter turns nbgrader's teacher menus off (make test installs nbgrader in .venv).
LAB_ENV := JUPYTER_CONFIG_DIR=$(VENV)/etc/lnbook-lab JUPYTER_CONFIG_PATH=$(CURDIR)/etc/jupyter
# The reader notebooks already there are left alone (a reader's edits stay); make reader
# writes them all anew.
lab: $(VENV)/.runtime-installed
	$(if $(filter $(READER) $(READER)/,$(DIR)),$(BIN)/python -m lnbook.book.editions reader --keep $(READER))
	$(LAB_ENV) $(BIN)/jupytext-config set-default-viewer
	$(LAB_ENV) $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) $(DIR)

# Classroom editions, written from the chapters into _build (never committed). Both first
# run every exercise stub with its check and stop, naming the exercise, if one is not a
# stub (an attempt JupyterLab autosaved into book/ is never handed out).
# Student notebooks: no solutions, no outputs, every check answers "not attempted yet"; the
# prose's numbers come from the chapters' executed runs (chapters the cache lacks run first).
student: $(VENV)/.runtime-installed
	$(BIN)/python -m lnbook.book.editions student _build/student
	@echo "Student notebooks in _build/student/ (hand them out; see book/teaching.md)."

# An nbgrader course folder: source/<chapter>/<chapter>.ipynb, each chapter's exercises with
# solutions and autograded checks. Then, with nbgrader installed:
# cd _build/nbgrader && nbgrader generate_assignment ... (book/teaching.md)
nbgrader: $(VENV)/.runtime-installed
	$(BIN)/python -m lnbook.book.editions nbgrader _build/nbgrader
	@echo "nbgrader course folder in _build/nbgrader/ (see book/teaching.md)."

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf _build node_modules/.lnbook

# Benchmarks (run on demand; never part of make test): the speed grid of chapter 8 (a table,
# and a CSV in _build/), then the live widgets' update latency.
bench: $(VENV)/.runtime-installed
	mkdir -p _build
	$(BIN)/python -m lnbook.bench --csv _build/bench_results.csv
	$(BIN)/python -m lnbook.latency
