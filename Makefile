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
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/cdcbench
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/cdcbench

.PHONY: bench
bench: build ## run a scenario on the embedded stack: make bench scenario=burst [ARGS="--rate 2000"]
	@scripts/ensure-postgres.sh
	$(BIN) run --scenario $(scenario) $(ARGS)

.PHONY: stack-up
stack-up: build ## start PostgreSQL, Kafka and the relay and keep them up (Ctrl-C stops)
	@scripts/ensure-postgres.sh
	$(BIN) stack up $(ARGS)

.PHONY: test
test: ## unit and integration tests (installs PostgreSQL with apt-get if missing)
	@scripts/ensure-postgres.sh
	@scripts/check.sh
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 20s ./changeevent

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@scripts/check.sh
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 ./...

.PHONY: perf
perf: ## micro-benchmarks of the hot path (decode, detect, record, encode)
	$(GO) test -run '^$$' -bench . -benchmem ./changeevent ./agents ./recorder

.PHONY: clean
clean: ## remove build output
	rm -rf bin
