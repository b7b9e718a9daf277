# dockermac.hostbridge: one entry point for users and developers. `make help` lists the targets.
# The user targets (bridge, verify, unbridge) also run under Apple's GNU make 3.81 and macOS's own tools;
# the test targets expect a Debian machine (tools/bootstrap says what is missing).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
# The test toolchain (requirements/dev.txt) and, for the user targets, a venv with ansible-core alone.
BIN := $(ROOT)/.venv/bin
CONTROLLER_BIN := $(ROOT)/.venv-controller/bin
# This checkout (through a symlink tree), the unpacked dependency collections, and Molecule's own copy.
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.tmp/collections:$(ROOT)/.cache/collections:$(HOME)/.ansible/collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export ANSIBLE_FORCE_COLOR := false
# Facts are never injected as top-level variables (the coming ansible-core default): the roles read ansible_facts.
export ANSIBLE_INJECT_FACT_VARS := false
export PATH := $(BIN):$(PATH)
# Each pytest stage writes .tmp/junit/<target>.xml: `make test` checks there that every test file ran (no-skips).
PYTEST = HOSTBRIDGE_NO_SKIP=$(NO_SKIP) $(BIN)/pytest -q --junitxml=$(ROOT)/.tmp/junit/$@.xml
# The controller Python of .venv runs the full sanity and pytest; these target Pythons (3.9 is macOS's own) run
# the compile and import sanity tests and ansible-test units. OLDEST_PYTHON runs the oldest ansible-core.
CONTROLLER_PYTHON ?= 3.12
TARGET_PYTHONS ?= 3.9 3.10 3.11 3.13
OLDEST_PYTHON ?= 3.11
OLDEST_BIN := $(ROOT)/.venv-oldest/bin
# `make test` (and so CI) turns every skipped test into a failure; single stages allow skips.
NO_SKIP ?= 0
MOLECULE_SCENARIOS ?= $(notdir $(wildcard extensions/molecule/*[!_]))
INVENTORY ?= localhost,
comma := ,
# On this machine: a local connection and the demo configuration (docs/examples/localhost.yml).
LOCAL_CONNECTION = $(if $(filter localhost$(comma),$(INVENTORY)),-c local -e @docs/examples/localhost.yml)
BRIDGE_ARGS ?=
# On this machine, ask for the sudo password (-K) unless this is root or sudo needs none; for an inventory, pass
# BRIDGE_ARGS=-K (or keep become passwords in a vault: docs/fleet.md).
BECOME_ARGS ?= $(if $(LOCAL_CONNECTION),$(shell [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null || echo --ask-become-pass))
PLAYBOOK = $(CONTROLLER_BIN)/ansible-playbook -i '$(INVENTORY)' $(LOCAL_CONNECTION) $(BECOME_ARGS) $(BRIDGE_ARGS)
# A log of a run: fail when it holds a deprecation warning (`make test` allows none).
NO_DEPRECATIONS = ! grep -n -A3 'DEPRECATION WARNING'

.PHONY: help bootstrap controller bridge verify unbridge test no-skips lint docs docs-generate sanity units units-matrix oldest system e2e reliability integration molecule ee package bench mutation mutation-system changelog clean

help:  ## Show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

bootstrap:  ## Install everything the tests need (root on Debian: packages, dockerd, base image, venv)
	@tools/bootstrap

controller:
	@tools/bootstrap --controller

bridge: controller  ## Main job: run playbooks/bridge.yml against INVENTORY (default: this machine)
	$(PLAYBOOK) dockermac.hostbridge.bridge

verify: controller  ## Check, read-only, that the bridge works on INVENTORY; one report of what is broken
	$(PLAYBOOK) dockermac.hostbridge.verify

unbridge: controller  ## Undo everything bridge.yml did on INVENTORY
	$(PLAYBOOK) dockermac.hostbridge.unbridge

# Every stage of `make test`, in order; each prints how long it took (docs/development.md lists the figures).
TEST_STAGES ?= lint docs sanity units units-matrix oldest system e2e reliability integration molecule ee package
test: bootstrap  ## Run every test (what .ci/run runs)
	@rm -rf .tmp/junit
	@for stage in $(TEST_STAGES); do \
	  start=$$(date +%s); \
	  PYTEST_ADDOPTS="--junitxml=$(ROOT)/.tmp/junit/$$stage.xml" $(MAKE) --no-print-directory NO_SKIP=1 $$stage; \
	  echo "make test: stage $$stage passed in $$(( $$(date +%s) - start )) s"; \
	done
	@$(MAKE) --no-print-directory no-skips
	@echo "make test: every stage passed"

no-skips:  ## After `make test`: no test skipped in any report of .tmp/junit, and every test file of the tree ran
	$(BIN)/python tools/no_skips.py --tree .tmp/junit

lint:  ## ruff, yamllint, shellcheck, ansible-lint (production), changelog lint, module docs lint and drift check, bench table
	$(BIN)/ruff check .
	$(BIN)/mypy -p ansible_collections.dockermac.hostbridge.plugins
	$(BIN)/yamllint -s .
	shellcheck tools/bootstrap tools/ansible-test tools/check-package tools/galaxy-import tools/docs tools/ee .ci/run $(wildcard tools/*.sh bench/*.sh docs/examples/*.sh extensions/molecule/*/*.sh)
	$(BIN)/ansible-lint --offline -q
	$(BIN)/antsibull-changelog lint
	tools/docs lint
	tools/docs check
	$(BIN)/python tools/mutation.py check
	$(BIN)/python bench/table.py --check

docs:  ## Build the HTML docs site offline into .tmp/docs-html (module and role pages from the code)
	tools/docs html

docs-generate:  ## Regenerate docs/modules/ from the modules' and roles' docs (then commit it)
	tools/docs generate

sanity:  ## ansible-test sanity (every test, the controller Python) + compile/import on the target Pythons
	tools/ansible-test sanity --venv --python $(CONTROLLER_PYTHON) --color no
	for py in $(TARGET_PYTHONS); do tools/ansible-test sanity --venv --python $$py --test compile --test import --color no; done

units:  ## pytest unit tests (the controller Python; includes property tests)
	$(PYTEST) tests/unit

units-matrix:  ## ansible-test units on each target Python (TARGET_PYTHONS)
	for py in $(TARGET_PYTHONS); do \
	  rm -f .tmp/junit/python$$py-*-units.xml; \
	  tools/ansible-test units --venv --python $$py --color no; \
	  if [ "$(NO_SKIP)" = 1 ]; then $(BIN)/python tools/no_skips.py .tmp/junit/python$$py-*-units.xml; fi; \
	done

# On the oldest ansible-core: the one-call re-run with and without the Docker side, one drift repair of each kind,
# and ansible-pull (the other drift cases differ only in what drifts; make system runs them all on 2.21).
OLDEST_SYSTEM_TESTS = tests/system/test_bridge_plan.py::test_rerun_in_step_makes_one_remote_call \
	'tests/system/test_bridge_plan.py::test_drift_is_repaired_and_nothing_else_runs[alias_removed]' \
	tests/system/test_bridge_plan.py::test_rerun_in_step_with_the_docker_side_makes_one_remote_call \
	'tests/system/test_bridge_plan.py::test_docker_drift_is_repaired_by_its_own_task[network_deleted]' \
	tests/system/test_ansible_pull.py

oldest:  ## The oldest ansible-core requires_ansible names (.venv-oldest): sanity, units, bridge.yml and ansible-pull for real
	HOSTBRIDGE_ANSIBLE_BIN=$(OLDEST_BIN) tools/ansible-test sanity --venv --python $(OLDEST_PYTHON) --color no
	HOSTBRIDGE_ANSIBLE_BIN=$(OLDEST_BIN) tools/ansible-test units --venv --python $(OLDEST_PYTHON) --color no
	HOSTBRIDGE_ANSIBLE_BIN=$(OLDEST_BIN) $(PYTEST) -n $(SYSTEM_WORKERS) --dist worksteal $(OLDEST_SYSTEM_TESTS)

# Two pytest-xdist workers: every system test makes its namespaces, devices, containers and networks under names
# of its own. test_sleeping_laptops.py compares the durations of two runs, which the other worker's load would
# skew: it runs alone afterwards, into a JUnit report of its own ($(PYTEST:.xml=-timed.xml)).
SYSTEM_WORKERS ?= 2
SYSTEM_TIMED = tests/system/test_sleeping_laptops.py

system:  ## Real Linux state as root: network namespaces, TAP devices, containers
	$(PYTEST) -n $(SYSTEM_WORKERS) --dist worksteal --ignore=$(SYSTEM_TIMED) tests/system
	$(PYTEST:.xml=-timed.xml) $(SYSTEM_TIMED)

e2e:  ## The tap bridge end to end against a simulated Docker Desktop on HyperKit
	$(PYTEST) tests/e2e

reliability:  ## Crash (SIGKILL) safety, races, properties, the bad-input matrix, security checks (docs/reliability.md)
	$(PYTEST) tests/reliability

integration:  ## ansible-test integration targets
	tools/ansible-test integration --venv --python $(CONTROLLER_PYTHON) --color no

molecule:  ## Molecule scenarios (docker driver, local base image)
	mkdir -p .tmp/junit
	cd extensions && for s in $(MOLECULE_SCENARIOS); do \
	  rm -f $(ROOT)/.tmp/junit/molecule-$$s.xml; \
	  HOSTBRIDGE_JUNIT=$(ROOT)/.tmp/junit/molecule-$$s.xml $(BIN)/molecule test -s $$s 2>&1 | tee $(ROOT)/.tmp/molecule-$$s.log; \
	  $(NO_DEPRECATIONS) $(ROOT)/.tmp/molecule-$$s.log; \
	  if [ "$(NO_SKIP)" = 1 ] && [ -d molecule/$$s/tests ]; then $(BIN)/python $(ROOT)/tools/no_skips.py $(ROOT)/.tmp/junit/molecule-$$s.xml; fi; \
	done

ee:  ## Execution Environment: build it air-gapped (tools/ee build), run bridge.yml from it over SSH + sudo (tests/ee)
	HOSTBRIDGE_NO_SKIP=$(NO_SKIP) tools/ee test

package:  ## Build the collection, galaxy-importer on it (offline), install it, render every doc, run a module from it
	tools/check-package

bench:  ## Benchmarks side by side: over SSH + sudo (floor, collection, hand-written, 50 hosts), docker exec cases, hot paths (docs/performance.md)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Not in `make test` (45 min on 2 shared cores): each file of MUTATION_FILES (default: all in tools/mutation.py)
# mutated by cosmic-ray, its own unit tests run per mutant; writes docs/mutation/*.json and the table in
# docs/development.md. cosmic-ray lives in a venv of its own, made from requirements/mutation.txt.
MUTATION_VENV := $(ROOT)/.venv-mutation
MUTATION_FILES ?=
MUTATION_JOBS ?= 2
$(MUTATION_VENV)/requirements.txt: requirements/mutation.txt
	rm -rf $(MUTATION_VENV)
	$(BIN)/python -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $<
	cp $< $@

mutation: $(MUTATION_VENV)/requirements.txt  ## Mutation score of plugins/module_utils (cosmic-ray; slow, not in `make test`)
	nice -n 19 $(MUTATION_VENV)/bin/python tools/mutation.py run --jobs $(MUTATION_JOBS) $(MUTATION_FILES)

# The second pass, as root: each file's unit survivors against the system tests that drive its code (one at a time:
# the system tests make network namespaces and devices of their own, but share the two cores).
mutation-system: $(MUTATION_VENV)/requirements.txt  ## The unit survivors against the system tests (root; slow)
	nice -n 19 $(MUTATION_VENV)/bin/python tools/mutation.py run --system $(MUTATION_FILES)

changelog:  ## Render CHANGELOG.rst from the fragments
	$(BIN)/antsibull-changelog generate

clean:  ## Remove build and test leftovers (keeps .venv and .cache)
	rm -rf .tmp tests/output *.tar.gz
