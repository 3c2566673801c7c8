# cdcbench. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/cdcbench
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

scenario ?= smoke
ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/cdcbench
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/cdcbench

.PHONY: bench
stack ?= embedded

bench: build ## run a scenario: make bench scenario=burst [stack=local] [ARGS="--rate 2000"]; stack=local adds Debezium on Apache Kafka beside the relay and polling
	@scripts/ensure-postgres.sh
	@if [ "$(stack)" = local ]; then scripts/ensure-java.sh; fi
	$(BIN) run --scenario $(scenario) --stack $(stack) $(ARGS)

.PHONY: stack-up
stack-up: build ## start PostgreSQL, Kafka and the relay and keep them up (Ctrl-C stops)
	@scripts/ensure-postgres.sh
	$(BIN) stack up $(ARGS)

PYAGENTS := agents/python
PYVENV := $(PYAGENTS)/.venv

.PHONY: python-agents
python-agents: $(PYVENV)/.installed ## the reference Python agents' virtual environment (agents/python/.venv, from PyPI)

# Rebuilt when the pinned requirements change; a half-made venv is removed.
$(PYVENV)/.installed: $(PYAGENTS)/requirements.txt
	@rm -rf $(PYVENV)
	python3 -m venv $(PYVENV) || { rm -rf $(PYVENV); exit 1; }
	$(PYVENV)/bin/pip install --quiet --disable-pip-version-check -r $(PYAGENTS)/requirements.txt || { rm -rf $(PYVENV); exit 1; }
	@touch $@

# The packages with tests on the local stack's JVMs (internal/testtier),
# relative to the repository's root.
ROOT := $(dir $(abspath $(firstword $(MAKEFILE_LIST))))
JVM_PKGS = $(shell cd $(ROOT) && git grep -lF 'testtier.JVM' -- '*_test.go' | xargs -r -n1 dirname | sort -u | sed 's|^|./|')

.PHONY: test
test: test-unit test-integration test-jvm test-fuzz ## every tier, one after another, then the decoder's fuzzer (installs PostgreSQL, Chromium, Java, Maven and kcat with apt-get if missing; sets up the Python agents' venv; CDCBENCH_SKIP_JVM=1 skips the JVM tier)

.PHONY: test-fuzz
test-fuzz: ## fuzz the change-event decoder for 20 s
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 20s ./internal/changeevent

.PHONY: test-unit
test-unit: ## gofmt and go vet, then the unit tests alone (go test -short): no server, packages and tests in parallel, under a minute
	@scripts/check.sh
	$(GO) test -race -count=1 -short ./...

# Integration tests start their own private PostgreSQL clusters and kfakes
# on free ports and judge no speed, but many check that a run is valid,
# which a producer more than 1 s behind its schedule is not: two packages'
# runs at once under -race on 2 cores did that (TestExternalStack, 3.9 s
# behind, with the machine at load 18). So one package at a time, as the
# JVM tier, whose packages start a Kafka broker and a Connect worker each
# (about 1.5 GB, both cores while they start). The unit tests run again
# with them.
.PHONY: test-integration
test-integration: python-agents ## tests on private PostgreSQL clusters and kfake, and cdcbench end to end (the live page in headless Chromium), one package at a time
	@scripts/ensure-postgres.sh
	@scripts/ensure-chromium.sh
	CDCBENCH_TIER=integration $(GO) test -race -count=1 -p 1 -timeout 20m ./...

.PHONY: test-jvm
test-jvm: ## tests on the local stack's Kafka, Kafka Connect and Debezium JVMs, one package at a time
	@scripts/ensure-postgres.sh
	@scripts/ensure-java.sh
	CDCBENCH_TIER=jvm $(GO) test -race -count=1 -p 1 -timeout 20m $(JVM_PKGS)

.PHONY: jvm-deps
jvm-deps: build ## download Kafka, Connect and Debezium jars with mvn into the per-user cache the local stack runs from (once)
	@scripts/ensure-java.sh
	$(BIN) stack jvm-deps

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@scripts/check.sh
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

.PHONY: perf
perf: ## the harness's own overhead: hot-path micro-benchmarks, an agent delay's share of e2e, then producer, relay, CPU and start-up beside psql and pg_recvlogical (cmd/perf/README.md)
	@scripts/ensure-postgres.sh
	@set -eo pipefail; out=results/perf-$$(date -u +%Y%m%dT%H%M%SZ); mkdir -p $$out; \
	echo "$(GO) test -run '^\$$' -bench . -benchmem -cpu 1 ./internal/changeevent ./agents ./internal/recorder | tee $$out/bench.txt"; \
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./internal/changeevent ./agents ./internal/recorder | tee $$out/bench.txt; \
	echo "$(GO) test -run '^\$$' -bench AgentDelay -benchtime 1x ./bench | tee $$out/calibration.txt"; \
	$(GO) test -run '^$$' -bench AgentDelay -benchtime 1x ./bench | tee $$out/calibration.txt; \
	echo "$(GO) run ./cmd/perf -bench $$out/bench.txt -out $$out"; \
	$(GO) run ./cmd/perf -bench $$out/bench.txt -out $$out

.PHONY: clean
clean: ## remove build output
	rm -rf bin

.PHONY: compose-up
compose-up: ## start the real stack (PostgreSQL, Kafka, Debezium Connect, Kafka UI) and wait until it is healthy
	docker compose -f compose/docker-compose.yml up -d --wait

.PHONY: compose-down
compose-down: ## stop the real stack and delete its volumes
	docker compose -f compose/docker-compose.yml down -v

dirs ?= $(shell ls -t results/*/result.json 2>/dev/null | head -1 | xargs -r dirname)

.PHONY: report
report: build ## markdown report with SVG charts into REPORT.md and REPORT.files/: newest run under results/, or make report dirs="results/a results/b"
	@test -n "$(dirs)" || { echo 'make report: no run under results/: make bench first, or make report dirs="results/a results/b"' >&2; exit 2; }
	$(BIN) report -o REPORT.md $(dirs)

rules ?= gates/ci.yaml
baseline ?=
N ?= 5

.PHONY: gate
gate: build ## CI latency gate: newest run under results/ (or dirs="d1 d2") against gates/ci.yaml (rules=FILE) [baseline=gates/baseline-smoke.json]; fails on a regression or an invalid run (exit 2 through make; bin/cdcbench gate itself exits 1, or 2 on bad input)
	$(BIN) gate --rules $(rules) $(if $(baseline),--baseline $(baseline)) $(dirs)

.PHONY: baseline
baseline: build ## run smoke N=5 times (3+3 runs can never reach p < 0.05) and record gates/baseline-smoke.json, the reference of relative gate rules
	@scripts/ensure-postgres.sh
	@set -e; out=results/baseline-$$(date -u +%Y%m%dT%H%M%SZ); \
	for i in $$(seq $(N)); do echo "baseline run $$i of $(N)"; $(BIN) run --scenario smoke --quiet --results $$out; done; \
	$(BIN) gate --record-baseline gates/baseline-smoke.json $$out/*/
