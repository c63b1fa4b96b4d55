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
TEPAT_TEST_DATABASE_URL ?= sqlite
export FLASK_APP := app
export TEPAT_TEST_DATABASE_URL

.PHONY: demo test serve sysdeps install translations lint typecheck bench clean

demo: install translations
	@mkdir -p instance
	$(BIN)/flask db upgrade
	$(BIN)/flask keys init --if-missing
	$(BIN)/flask demo load | tee instance/demo-accounts.txt
	@echo
	@echo "Tepat berjalan di http://$(HOST):$(PORT)/  (akun demo di atas; juga di instance/demo-accounts.txt)"
	$(BIN)/flask run --host $(HOST) --port $(PORT)

serve: install translations
	$(BIN)/flask run --host $(HOST) --port $(PORT)

test: install translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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

translations: $(STAMP)
	@if [ -d app/translations ]; then $(BIN)/pybabel compile -q -f -d app/translations; fi

lint: install
	$(BIN)/ruff check app labels scanner tests

typecheck: install
	$(BIN)/mypy --strict labels scanner app/custody/rules.py app/custody/merkle.py app/plan/needs.py

bench: install
	$(BIN)/python tests/bench_labels.py
	$(BIN)/python tests/bench_scanner.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
