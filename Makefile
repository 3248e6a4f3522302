# Two commands do everything on a fresh clone:
#   make run    the service on an embedded AWS (moto), API on http://127.0.0.1:3000
#   make test   lint and type gate, template lint, sam build, and every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
CHECKOV_VENV := .tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test gate lint typecheck template build test-unit test-integration test-e2e test-build bench openapi clean

$(STAMP): requirements-dev.txt layers/shared/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(SAM_STAMP): requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q -r requirements-sam.txt
	touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q -r requirements-checkov.txt
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m localcloud $(ARGS)

## The whole gate: lint, types, template, build, tests.
test: gate build
	$(BIN)/pytest -n 2 --dist loadgroup

gate: lint typecheck template

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/shared/audit_service localcloud functions bench

# cfn-lint, SAM's own lint, and checkov (security findings: fixed, or suppressed with a reason; .checkov.yaml).
template: $(STAMP) $(SAM_STAMP) $(CHECKOV_STAMP)
	$(BIN)/cfn-lint template.yaml
	PATH="$(CURDIR)/$(BIN):$$PATH" $(SAM) validate --lint --region us-east-1
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --config-file .checkov.yaml

# sam build runs pip for the layer with Python 3.13 from the project's venv.
build: $(STAMP) $(SAM_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(SAM) build

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-integration: $(STAMP)
	$(BIN)/pytest tests/integration

test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

test-build: build
	$(BIN)/pytest tests/packaging

## Regenerate the OpenAPI document that GET /openapi.json serves.
openapi: $(STAMP)
	$(BIN)/python -m localcloud.openapi

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .tools .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
