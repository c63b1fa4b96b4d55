# Tepat: two commands on a fresh Debian machine.
#   make demo   installs everything, loads Gunung Mas into instance/tepat.sqlite, serves :5000
#   make test   installs everything and runs the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one per core; a file's tests stay in one process, since some
# share a port or a Redis database. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= auto
# The demo stands on the afternoon of H-1: 26 November 2024, 15:00 WIB. After election
# day (e.g. DEMO_NOW=2024-11-28T08:00:00Z, H+1 15:00 WIB) the way back is played too.
DEMO_NOW ?= 2024-11-26T08:00:00Z
TEPAT_TEST_DATABASE_URL ?= sqlite
export FLASK_APP := app
export TEPAT_TEST_DATABASE_URL

.PHONY: demo test serve serve-prod sysdeps install translations catalog screenshots lint typecheck bench clean

demo: install translations
	@mkdir -p instance
	$(BIN)/flask db upgrade heads
	$(BIN)/flask keys init --if-missing
	DEMO_NOW=$(DEMO_NOW) $(BIN)/flask demo load | tee instance/demo-accounts.txt
	@echo
	@echo "Tepat berjalan di http://$(HOST):$(PORT)/  (akun demo di atas; juga di instance/demo-accounts.txt)"
	@# The Merkle log's integrator runs beside the server, off the request path.
	TEPAT_NOW=$(DEMO_NOW) $(BIN)/flask ledger integrate --every 30 & integrator=$$!; \
	trap 'kill $$integrator 2>/dev/null' EXIT INT TERM; \
	TEPAT_NOW=$(DEMO_NOW) $(BIN)/flask run --host $(HOST) --port $(PORT)

serve: install translations
	$(BIN)/flask run --host $(HOST) --port $(PORT)

# Production: gunicorn workers (app/gunicorn.conf.py) on PostgreSQL and Redis; label print
# jobs run in `flask jobs worker` (RQ). See docs/SCALE.md.
serve-prod: install translations
	$(BIN)/flask db upgrade heads
	$(BIN)/flask jobs worker & worker=$$!; \
	trap "kill $$worker" EXIT INT TERM; \
	$(BIN)/gunicorn -c app/gunicorn.conf.py

test: install translations
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# System libraries: zbar for pyzbar, Chromium for the browser tests, poppler for PDF checks.
sysdeps:
	@missing=""; \
	ldconfig -p 2>/dev/null | grep -q libzbar.so.0 || missing="$$missing libzbar0"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Memasang paket sistem:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "Paket sistem belum terpasang:$$missing"; \
	    echo "Jalankan sebagai root: apt-get install$$missing  (Debian/Ubuntu)"; \
	    exit 1; \
	  fi; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: sysdeps $(STAMP)

# Interface texts: Indonesian msgids in the code (_() in Python, {{ _('…') }} in templates),
# English in app/translations/en/LC_MESSAGES/messages.po; the compiled .mo is git-ignored.
# After adding or changing texts: "make catalog" (pybabel extract, then pybabel update into
# messages.po), translate every new empty msgstr, then "make translations".
# tests/web/test_i18n.py fails while a text in the code has no English translation.
translations: $(STAMP)
	@if [ -d app/translations ]; then $(BIN)/pybabel -q compile -f -d app/translations; fi

catalog: $(STAMP)
	$(BIN)/pybabel -q extract -F app/babel.cfg -o $(VENV)/messages.pot app
	$(BIN)/pybabel -q update -N -w 100 -i $(VENV)/messages.pot -d app/translations

# Browser tests that also save phone and desktop screenshots to docs/screenshots/.
screenshots: install translations
	TEPAT_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -m browser tests

lint: install
	$(BIN)/ruff check app labels scanner tests

typecheck: install
	$(BIN)/mypy --strict --follow-imports=silent labels scanner app/custody/rules app/custody/merkle.py app/custody/errors.py app/custody/codec.py app/plan/needs.py

bench: install
	$(BIN)/python tests/bench_labels.py
	$(BIN)/python tests/bench_scanner.py
	$(BIN)/python tests/bench_page_scan.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
