# Switchyard — `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
export GOFLAGS ?= -buildvcs=false
DATA ?= ./data
FUZZTIME ?= 4s

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## start the whole platform on the embedded default (no external services); data in ./data
	$(GO) run ./cmd/switchyard -data-dir $(DATA)

build: ## build every binary into ./bin
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/... ./edge/cmd/... ./control/cmd/... ./analytics/cmd/... ./loadtest/cmd/...

test: check fuzz-smoke deploy-check services-up ## checks, fuzz smoke, deploy artifacts, the unit tests once with -race, unit and integration tests on real local services
	bash ops/test.sh

test-security: services-up ## the security regression suite alone: every TestSecurity* attack test, on the real services
	source ops/services/env.sh && $(GO) test -count=1 -tags integration -run '^TestSecurity' ./...

test-unit: ## unit tests only (no services)
	$(GO) test -count=1 ./...

bench: ## run the benchmarks for real (figures in docs/benchmarks.md)
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./...

bench-pipeline: services-up ## change-pipeline figures on the real services: MongoDB-wire write cost and plans, change latency by size (docs/benchmarks.md)
	source ops/services/env.sh && $(GO) test -count=1 -tags integration -run XXX -bench BenchmarkIntegrationFlagWrite -benchtime 20x ./control/internal/store/mongo
	source ops/services/env.sh && $(GO) test -count=1 -tags integration -v -run TestIntegrationWriteQueryPlans ./control/internal/store/mongo
	source ops/services/env.sh && $(GO) test -count=1 -tags integration -timeout 40m -v -run TestIntegrationChangeLatencyBySize ./control

fuzz-smoke: ## run every fuzz target for FUZZTIME (default 4s)
	bash ops/fuzz-smoke.sh $(FUZZTIME)

ui: ## rebuild the operator UI assets (control/ui/dist, committed; needs Node)
	bash control/ui/build.sh

generate: ## regenerate msgp code
	$(GO) generate ./codec/... ./control/internal/store
	@chmod 0644 codec/*_gen.go codec/*_gen_test.go control/internal/store/*_gen.go control/internal/store/*_gen_test.go

deploy-check: ## validate ops/deploy: render + strictly decode the Helm chart, load the compose file, lint the Dockerfile and systemd units
	bash ops/deploy/check.sh

check: ## gofmt, go vet, staticcheck and govulncheck (pinned; govulncheck only where vuln.go.dev answers), regenerating changes nothing
	bash ops/check.sh

services-up: ## install (if missing) and start Redis, Kafka, the MongoDB-wire server and ClickHouse on loopback
	bash ops/services/up.sh

services-down: ## stop exactly what services-up started (by pid file)
	bash ops/services/down.sh

.PHONY: help run build test test-security test-unit bench bench-pipeline fuzz-smoke ui generate check deploy-check services-up services-down
