# dockermac.hostbridge: one entry point for developers and CI. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
BIN := $(ROOT)/.venv/bin
# This checkout (through a symlink tree), the unpacked dependency collections, and Molecule's own copy.
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.tmp/collections:$(ROOT)/.cache/collections:$(HOME)/.ansible/collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export ANSIBLE_FORCE_COLOR := false
export PATH := $(BIN):$(PATH)
PYTEST := HOSTBRIDGE_NO_SKIP=$(NO_SKIP) $(BIN)/pytest -q
TARGET_PYTHONS ?= 3.9 3.12 3.13
# `make test` (and so CI) turns every skipped test into a failure; single stages allow skips.
NO_SKIP ?= 0
MOLECULE_SCENARIOS ?= $(notdir $(wildcard extensions/molecule/*[!_]))
INVENTORY ?= localhost,
comma := ,
# On this machine: a local connection and the demo configuration (docs/examples/localhost.yml).
LOCAL_CONNECTION = $(if $(filter localhost$(comma),$(INVENTORY)),-c local -e @docs/examples/localhost.yml)
BRIDGE_ARGS ?=

.PHONY: help bootstrap controller bridge unbridge test lint sanity units units-matrix system e2e reliability integration molecule package bench changelog clean

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

bootstrap:  ## Install everything the tests need (root on Debian: packages, dockerd, base image, venv)
	@tools/bootstrap

controller:
	@tools/bootstrap --controller

bridge: controller  ## Main job: run playbooks/bridge.yml against INVENTORY (default: this machine)
	$(BIN)/ansible-playbook -i '$(INVENTORY)' $(LOCAL_CONNECTION) dockermac.hostbridge.bridge $(BRIDGE_ARGS)

unbridge: controller  ## Undo everything bridge.yml did on INVENTORY
	$(BIN)/ansible-playbook -i '$(INVENTORY)' $(LOCAL_CONNECTION) dockermac.hostbridge.unbridge $(BRIDGE_ARGS)

test: bootstrap  ## Run every test (what .ci/run runs)
	@$(MAKE) --no-print-directory NO_SKIP=1 lint sanity units units-matrix system e2e reliability integration molecule package
	@echo "make test: every stage passed"

lint:  ## ruff, yamllint, shellcheck, ansible-lint (production), changelog lint
	$(BIN)/ruff check .
	$(BIN)/yamllint -s .
	shellcheck tools/bootstrap tools/ansible-test .ci/run $(wildcard tools/*.sh bench/*.sh)
	$(BIN)/ansible-lint --offline -q
	$(BIN)/antsibull-changelog lint

sanity:  ## ansible-test sanity (every test, Python 3.11) + compile/import on the target Pythons
	tools/ansible-test sanity --venv --python 3.11 --color no
	for py in $(TARGET_PYTHONS); do tools/ansible-test sanity --venv --python $$py --test compile --test import --color no; done

units:  ## pytest unit tests (Python 3.11; includes property tests)
	$(PYTEST) tests/unit

units-matrix:  ## ansible-test units on each target Python (TARGET_PYTHONS)
	for py in $(TARGET_PYTHONS); do tools/ansible-test units --venv --python $$py --color no; done

system:  ## Real Linux state as root: network namespaces, TAP devices, containers
	$(PYTEST) -m 'root or docker' tests/system

e2e:  ## The tap bridge end to end against a simulated Docker Desktop on HyperKit
	$(PYTEST) tests/e2e

reliability:  ## Crash (SIGKILL) safety, races, properties, the bad-input matrix, security checks (docs/reliability.md)
	$(PYTEST) tests/reliability

integration:  ## ansible-test integration targets
	tools/ansible-test integration --venv --python 3.11 --color no

molecule:  ## Molecule scenarios (docker driver, local base image)
	cd extensions && for s in $(MOLECULE_SCENARIOS); do $(BIN)/molecule test -s $$s; done

package:  ## Build the collection, install it in a temp path, render every doc, run a module from it
	tools/check-package

bench:  ## Benchmarks side by side: floor, this collection, naive, fleet, hot paths (docs/performance.md)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

changelog:  ## Render CHANGELOG.rst from the fragments
	$(BIN)/antsibull-changelog generate

clean:  ## Remove build and test leftovers (keeps .venv and .cache)
	rm -rf .tmp tests/output *.tar.gz
