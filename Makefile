# motcua: the two commands of the README are `make demo` and `make test`; both run `setup` first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
MOTCUA_HOME ?= $(CURDIR)/var
JARS ?= $(MOTCUA_HOME)/jars
export MOTCUA_HOME

# root needs no sudo (CI, containers); anyone else gets it for apt-get only
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help setup system-packages venv jars demo test lint stack-up stack-down clean

help:
	@echo "make demo   set up, start the local stack, run the demo"
	@echo "make test   set up, start the stack, run every test, stop the stack"
	@echo "make setup  install what is missing (apt clickhouse-server, venv, Kafka jars); idempotent"
	@echo "make lint   ruff check"

setup: system-packages venv jars

# Debian's clickhouse-server (18.16) and chromium (Playwright's Python API drives it: no browser download);
# java and mvn must already be there (Java 17, Maven).
system-packages:
	@command -v java >/dev/null || { echo "error: Java 17 is required (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "error: Maven is required (apt-get install maven)"; exit 1; }
	@if ! command -v clickhouse-server >/dev/null && [ ! -x /usr/sbin/clickhouse-server ]; then \
		echo "installing clickhouse-server with apt-get"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q clickhouse-server; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium with apt-get (the browser test of motcua screen drives it headless)"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; \
	fi

# the venv is (re)installed when pyproject.toml is newer than the stamp
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	@touch $@

# the Kafka classpath from Maven Central; redone when stack/pom.xml changes (same stamp as `stack up`)
jars: $(VENV)/.installed
	@$(VENV)/bin/python -c "import sys; from stack import kafka; sys.exit(0 if kafka.jars_ready() else 1)" || { \
		echo "resolving Kafka jars with Maven into $(JARS)"; \
		$(VENV)/bin/python -c "from stack import kafka; kafka.ensure_jars()"; }

demo: setup
	$(VENV)/bin/motcua stack up
	$(VENV)/bin/motcua demo
	@echo "the demo stopped; the stack is still up ('motcua stack down' stops it)"

test: setup
	stack/run-tests.sh

lint: venv
	$(VENV)/bin/ruff check .

stack-up: setup
	$(VENV)/bin/motcua stack up

stack-down: venv
	$(VENV)/bin/motcua stack down

clean: stack-down
	rm -rf $(MOTCUA_HOME)
