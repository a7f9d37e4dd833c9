# leadflow: the commands a newcomer can guess. Needs Python 3.11+ and Node.js; nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.installed
CLIENT ?= demo
CHROMIUM ?= /usr/bin/chromium
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true
CDK := npx --no-install cdk --no-notices

.PHONY: run test test-fast lint bench openapi layers synth deploy diff destroy clean

run: $(READY)  ## start the whole stack locally (moto-backed): API on http://127.0.0.1:3000
	$(BIN)/leadflow local --client $(CLIENT)

test: $(READY) layers $(CHROMIUM)  ## every test tier: unit, integration, infra (synth + cdk-nag), e2e, browser
	LEADFLOW_CHROMIUM=$(CHROMIUM) $(BIN)/pytest

test-fast: $(READY)  ## unit and integration tests only
	$(BIN)/pytest tests/unit tests/integration

lint: $(READY)  ## ruff and mypy, as configured in pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/mypy layers/leadflow infra
	@for fn in functions/*/; do echo "mypy $$fn"; $(BIN)/mypy "$$fn" || exit 1; done  # each is its own `handler` module

bench: $(READY)  ## performance figures as ratios against baselines measured in the same run
	$(BIN)/python -m leadflow.bench

openapi: $(READY)  ## write docs/openapi.json, the rep API's document (a test fails while it differs from the code)
	LEADFLOW_CLIENT_CONFIG=clients/demo.toml $(BIN)/python -c 'import sys; from leadflow.follow_up.api import openapi_json; sys.stdout.write(openapi_json())' > docs/openapi.json

layers: $(READY)  ## build the Lambda layers into .build/ (Docker-free; rebuilt only when inputs change)
	$(BIN)/python infra/layer_build.py

synth: $(READY) layers node_modules/.installed  ## CLIENT=name or CLIENT=all; STAGE=name for a second deployment
	$(CDK) synth -c client=$(CLIENT) $(if $(STAGE),-c stage=$(STAGE)) --quiet

deploy: $(READY) layers node_modules/.installed  ## CLIENT=name [STAGE=name]: deploys stack Leads-name[-stage] with your AWS credentials
	$(BIN)/python infra/retained.py before-deploy --client $(CLIENT) $(if $(STAGE),--stage $(STAGE)) --cdk "$(CDK)"
	$(CDK) deploy -c client=$(CLIENT) $(if $(STAGE),-c stage=$(STAGE)) Leads-$(CLIENT)$(if $(STAGE),-$(STAGE))

diff: $(READY) layers node_modules/.installed
	$(CDK) diff -c client=$(CLIENT) Leads-$(CLIENT)

destroy: $(READY) layers node_modules/.installed  ## CLIENT=name [STAGE=name] [FORCE=1]: keeps the table and queues
	$(BIN)/python infra/retained.py before-destroy --client $(CLIENT) $(if $(STAGE),--stage $(STAGE)) $(if $(FORCE),--force)
	$(CDK) destroy -c client=$(CLIENT) $(if $(STAGE),-c stage=$(STAGE)) Leads-$(CLIENT)$(if $(STAGE),-$(STAGE))

clean:
	rm -rf .build cdk.out .leadflow .pytest_cache .mypy_cache .ruff_cache

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
$(CHROMIUM):
	@echo "The browser tests need Chromium at $(CHROMIUM); installing Debian's package..."
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "Install Chromium (apt-get install chromium), or point CHROMIUM=/path/to/chrome at one, then run make test again."; exit 1; fi

$(READY): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "leadflow needs Python 3.11 or newer: set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@
