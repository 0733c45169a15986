# Everything a fresh clone needs: `make demo` and `make test` install what is missing first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# Quieter, reproducible runs of ape and hypothesis.
export APE_DISABLE_TELEMETRY := 1

PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
BUILD_STAMP := .build/.compiled
CONTRACTS := $(shell find contracts -name '*.vy' -o -name '*.vyi')

.PHONY: install compile test test-quick test-integrations test-fork demo replay sweep bench gas gas-update deploy lint clean mutate

install: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	anvil --version >/dev/null
	touch $@

$(BUILD_STAMP): $(PY_STAMP) $(NPM_STAMP) $(CONTRACTS) ape-config.yaml
	ape compile
	python -m keeper.abi export
	python -m devchain.solc
	touch $@

compile: $(BUILD_STAMP)

# The whole suite: everything on a local anvil, then the integrations and the forked-mainnet suite (offline
# unless FORK_RPC_URL is set), each in its own session (the fork suite switches networks).
test: $(BUILD_STAMP)
	ape test tests -q -p no:cacheprovider --ignore=tests/fork --ignore=tests/integrations
	$(MAKE) --no-print-directory test-integrations
	$(MAKE) --no-print-directory test-fork

# Third-party protocols (Aave v3, Uniswap v4, Morpho Blue) on their real bytecode, in a session of their own:
# their session fixtures register markets and consumers that the unit tests' shared breaker must not see.
test-integrations: $(BUILD_STAMP)
	ape test tests/integrations -q -p no:cacheprovider

# The inner loop: contract unit tests and the Python-only tests, no stateful, keeper, replay or fork suites.
test-quick: $(BUILD_STAMP)
	ape test tests/unit tests/repo -q -p no:cacheprovider -x

test-fork: $(BUILD_STAMP)
	ape test tests/fork -q -p no:cacheprovider --disable-isolation

# A tour of one market on a local chain, then the 10 October USDe crash under every protection x
# DEMO_SEEDS borrower seeds, every figure a median with its 5-95% range (docs/replay.md).
DEMO_SEEDS ?= 20
demo: $(BUILD_STAMP)
	ape run demo -v WARNING
	python -m replay.compare scenarios/oct10-usde.yaml --seeds $(DEMO_SEEDS)

SCENARIO ?= scenarios/oct10-usde.yaml
BREAKER ?= composite
OUT ?= results/$(notdir $(basename $(SCENARIO)))/$(BREAKER).json
replay: $(BUILD_STAMP)
	python -m replay --scenario $(SCENARIO) --breaker $(BREAKER) --out $(OUT)

# The calibration grid on a Dask cluster: local by default, DASK_SCHEDULER_ADDRESS or
# SWEEP_ARGS="--address tcp://host:8786" for an existing one (docs/replay.md).
SWEEP_ARGS ?=
sweep: $(BUILD_STAMP)
	python -m replay.sweep $(SWEEP_ARGS)

bench: $(BUILD_STAMP)
	ape run bench -v WARNING

# Gas of the key calls against the committed gas-snapshot.json: a rise over 1% fails, naming the call.
gas: $(BUILD_STAMP)
	ape run gas -v WARNING

gas-update: $(BUILD_STAMP)
	GAS_UPDATE=1 ape run gas -v WARNING

deploy: $(BUILD_STAMP)
	ape run deploy --config $(or $(CONFIG),config/local.yaml)

# Mutation testing of the breaker (docs/mutation.md): about an hour on two busy cores; writes bench/mutation.json.
MUTATE_ARGS ?=
mutate: $(BUILD_STAMP)
	nice -n 10 python tools/mutate.py $(MUTATE_ARGS)

PY_SOURCES := keeper deployment devchain replay bench scripts tools tests
lint: $(PY_STAMP)
	ruff check $(PY_SOURCES)
	ruff format --check $(PY_SOURCES)
	mypy
	python tools/vyper_warnings.py

clean:
	rm -rf .build $(VENV) node_modules
