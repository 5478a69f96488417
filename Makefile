# vr6-agent: the README's two commands are `make test` and `make lab`.
# Both install what they need on a fresh Debian 12 (as root) and are idempotent.

SHELL := /bin/bash
APT_PACKAGES := nftables radvd iproute2 iputils-ping ndisc6 netcat-openbsd procps openssl
NPM_STAMP := node_modules/.vr6-installed

.PHONY: all deps build test test-unit lab schema clean

all: build

## deps: Debian packages (only the missing ones) and node_modules (only when package-lock.json changed).
deps: $(NPM_STAMP)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: $(NPM_STAMP)
	node build.mjs

## test: every test; the lab tests need root and run in network namespaces they create.
test: deps build
	npx tsc --noEmit
	npx vitest run --reporter=default --reporter=json --outputFile.json=dist/vitest.json; \
	  status=$$?; node .ci/summary.mjs dist/vitest.json; exit $$status

test-unit: $(NPM_STAMP)
	npx vitest run test/unit

## lab: the CloudStack-like namespace lab, end to end, with PASS/FAIL lines.
lab: deps build
	node dist/lab.js

## schema: regenerate schema/desired-state.schema.json from the zod schema.
schema: $(NPM_STAMP)
	node build.mjs --json-schema

clean:
	rm -rf dist
