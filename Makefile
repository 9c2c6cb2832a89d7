# Two commands matter (see README): `make demo` and `make test`. Both bootstrap what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian packages the end-to-end tests and benchmarks use: promtool + a real Prometheus,
# net-snmp tools and snmpd, snmp_exporter as the peer in bench/poll.py, poppler's pdftoppm to check
# rendered PDF reports, chromium for the operator page's headless-browser test (driven by Playwright, which
# downloads no browser of its own), and the CJK TrueType font of Chinese reports (WenQuanYi Micro Hei:
# Apache-2.0 or GPL-3+ with the font-embedding exception; agent/reports/fonts.py finds it by path).
DEB_PACKAGES := prometheus snmp snmpd prometheus-snmp-exporter poppler-utils chromium fonts-wqy-microhei postgresql
DEB_BINARIES := promtool prometheus snmpget snmpd prometheus-snmp-exporter pdftoppm chromium pg_ctlcluster
DEB_FILES    := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc

.PHONY: demo test test-fast lint bench venv system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## Simulated site + agent + metrics on http://127.0.0.1:10330/metrics (Ctrl-C to stop); the mixed-protocol
## hall by default (Modbus TCP meters, BACnet/IP plant, Redfish servers, SNMP for the rest): DEMO_SITE=twin for
## the same hall all on SNMP; a --site in DEMO_ARGS wins too
DEMO_SITE ?= twin-mixed
demo: $(STAMP)
	$(BIN)/pue-agent demo --site $(DEMO_SITE) $(DEMO_ARGS)

system-deps:
	@missing=""; for b in $(DEB_BINARIES); do \
	  command -v $$b >/dev/null 2>&1 || [ -x /usr/sbin/$$b ] || [ -x /usr/bin/$$b ] || missing="$$missing $$b"; done; \
	for f in $(DEB_FILES); do [ -f $$f ] || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for end-to-end tests (missing:$$missing)"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PACKAGES) >/dev/null; \
	fi

## Every test: unit, recordings over real UDP, end-to-end with real Prometheus
# Two pytest-xdist workers share the test files, each file whole on one worker so its module fixtures start
# once: the end-to-end tests mostly wait on poll intervals, and the other worker computes meanwhile.
# TEST_WORKERS=0 runs everything in this one process (docs/testing.md).
TEST_WORKERS ?= 2
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e and not slow"

lint: $(STAMP)
	$(BIN)/ruff check agent models twin tests bench
	$(BIN)/ruff format --check agent models twin tests bench
	$(BIN)/mypy

bench: $(STAMP) system-deps
	$(BIN)/python bench/poll.py
	$(BIN)/python bench/twin_year.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
