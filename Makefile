# Two-command set-up: `make run` starts the dashboard, `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
# The dashboard listens on this machine only (.streamlit/config.toml); `make run ADDRESS=0.0.0.0` exposes it on the
# network deliberately (no login: anyone who reaches it can run jobs and read the data under the data roots).
ADDRESS ?=

.PHONY: run test venv browser bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --no-cache-dir --upgrade --quiet pip
	$(BIN)/python -m pip install --no-cache-dir --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium drives the browser tests (Playwright's own download cannot work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

run: $(STAMP)
	$(BIN)/python -m dashboard.launch --server.port $(PORT) --browser.gatherUsageStats false \
		$(if $(ADDRESS),--server.address $(ADDRESS))

test: $(STAMP) browser
	$(BIN)/python -m pytest -q tests

bench: $(STAMP)
	$(BIN)/python -m mu_core.bench

clean:
	rm -rf $(VENV)
