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
MUTMUT_VENV := .tools/mutmut
MUTMUT_STAMP := $(MUTMUT_VENV)/.installed
MUTATION_DIR := .tools/mutation
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: browser install run test gate lint typecheck template build test-unit test-integration test-e2e test-build bench openapi mutation clean

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

$(MUTMUT_STAMP): requirements-mutation.txt requirements-dev.txt
	test -x $(MUTMUT_VENV)/bin/python || $(PYTHON) -m venv $(MUTMUT_VENV)
	$(MUTMUT_VENV)/bin/pip install -q -r requirements-mutation.txt
	touch $@

CONSOLE_STAMP := tests/e2e/browser/node_modules/.installed

# The Console has no runtime dependencies; its browser tests need axe-core (npm, lockfile) and Debian's chromium.
$(CONSOLE_STAMP): tests/e2e/browser/package.json tests/e2e/browser/package-lock.json
	cd tests/e2e/browser && npm ci --no-audit --no-fund --silent
	touch $@

browser:
	@command -v chromium >/dev/null || { \
		test "$$(id -u)" = 0 || { echo "chromium is missing: sudo apt-get install -y chromium"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m localcloud $(ARGS)

## The whole gate: lint, types, template, build, tests.
test: gate build $(CONSOLE_STAMP) browser
	$(BIN)/pytest -n 2 --dist loadgroup --durations=15

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

## Mutation testing (mutmut) of the security-critical modules; slow (hours for all five), not in `make test`
## or CI. mutmut names a mutant after its file's path (minus a leading src/), which must be the module's
## import name, so it runs in a workspace where the layer's package is src/audit_service and the rest of
## the project is linked ([tool.mutmut] in pyproject.toml). One module: make mutation MUTANTS='audit_service.crypto.envelope.*'
mutation: $(MUTMUT_STAMP)
	rm -rf $(MUTATION_DIR) && mkdir -p $(MUTATION_DIR)/src
	cp -R layers/shared/audit_service $(MUTATION_DIR)/src/
	cp pyproject.toml $(MUTATION_DIR)/
	for name in tests docs events functions layers localcloud statemachines template.yaml; do \
		ln -s $(CURDIR)/$$name $(MUTATION_DIR)/$$name; done
	cd $(MUTATION_DIR) && $(CURDIR)/$(MUTMUT_VENV)/bin/mutmut run $(MUTANTS); \
		status=$$?; $(CURDIR)/$(MUTMUT_VENV)/bin/mutmut results --all true | tail -n 200; exit $$status

clean:
	rm -rf $(VENV) .tools .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
