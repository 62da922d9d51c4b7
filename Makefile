# Two commands set everything up on a fresh machine:
#   make test   installs the pinned livekit-server, livekit-sip, redis-server,
#               sipp, Debian chromium and web/'s npm packages, lints, runs
#               every test with -race (the browser test included), in both
#               modules, then fuzzes each fuzz target for TEST_FUZZTIME
#   make demo   starts a real local LiveKit and the example server with its
#               demo page, and prints the page's URL
SHELL := /bin/bash
BIN := $(CURDIR)/.bin
STATICCHECK_VERSION := v0.7.0
# internal/openapi is a module of its own, so that the OpenAPI test's
# kin-openapi stays out of the module graph of every program importing lkgate.
MODULES := . internal/openapi
# Each fuzz target runs this many inputs in `make test` (18 targets: about a
# minute in all on 2 cores) and FUZZTIME long in `make fuzz`.
TEST_FUZZTIME := 3000x
FUZZTIME := 1m

.PHONY: test demo lint install unit bench fuzz

install:
	scripts/install-livekit.sh
	scripts/install-sip.sh
	scripts/install-browser.sh

$(BIN)/staticcheck-$(STATICCHECK_VERSION):
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/staticcheck $@

lint: $(BIN)/staticcheck-$(STATICCHECK_VERSION)
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	for m in $(MODULES); do (cd $$m && go mod tidy -diff && go vet ./... && $(BIN)/staticcheck-$(STATICCHECK_VERSION) ./...) || exit 1; done

test: install lint
	for m in $(MODULES); do (cd $$m && go test -race -count=1 -p 1 -timeout 20m ./...) || exit 1; done
	FUZZTIME=$(TEST_FUZZTIME) scripts/fuzz.sh

# Unit tests only: no livekit-server needed.
unit:
	for m in $(MODULES); do (cd $$m && go test -race -count=1 -short ./...) || exit 1; done

demo:
	scripts/demo.sh

# Benchmarks are run by hand, never asserted in tests. redislimit's need a
# redis-server, which install-sip.sh installs.
bench:
	command -v redis-server >/dev/null || scripts/install-sip.sh
	go test -run '^$$' -bench . -benchmem ./...

# Every fuzz target for FUZZTIME (make fuzz FUZZTIME=10m); an input that
# fails is left under the package's testdata/fuzz, a seed to commit.
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh
