# vr6-agent: the README's two commands are `make test` and `make lab`.
# Both install what they need on a fresh Debian 12 (as root) and are idempotent.

SHELL := /bin/bash
APT_PACKAGES := nftables radvd frr keepalived conntrackd conntrack iproute2 iputils-ping ndisc6 netcat-openbsd procps openssl systemd python3 gcc libc6-dev
NPM_STAMP := node_modules/.vr6-installed

.PHONY: all deps build test test-unit lab soak schema clean

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

build: $(NPM_STAMP) dist/vr6-nft-genid dist/vr6-route-genid
	node build.mjs

## The nf_tables generation-id helper: lets a resync skip listing an unchanged table.
dist/vr6-nft-genid: src/native/nft-genid.c
	@mkdir -p dist
	cc -O2 -Wall -Wextra -o $@ $<

## The route-change counter: lets a push plan a routed-prefix move without dumping every route.
dist/vr6-route-genid: src/native/route-genid.c
	@mkdir -p dist
	cc -O2 -Wall -Wextra -o $@ $<

## test: every test; the lab tests need root and run in network namespaces they create.
test: deps build
	npx tsc --noEmit
	npx vitest run --reporter=default --reporter=json --outputFile.json=dist/vitest.json; \
	  status=$$?; node .ci/summary.mjs dist/vitest.json; exit $$status

## soak: the reliability campaigns at their small CI trial counts (docs/reliability.md); root. SOAK_TRIALS=N sets every campaign's count, SEED=N replays one.
soak: deps build
	@rm -f dist/soak-figures.txt
	npx vitest run --config vitest.soak.config.ts; \
	  status=$$?; echo '--- soak figures ---'; cat dist/soak-figures.txt 2>/dev/null; exit $$status

## test-unit: the unit project alone (vitest.config.ts): no root, no namespaces, files in parallel.
test-unit: $(NPM_STAMP)
	npx vitest run --project unit

## lab: the CloudStack-like namespace lab, end to end, with PASS/FAIL lines.
lab: deps build
	node dist/lab.js

## schema: regenerate schema/desired-state.schema.json from the zod schema.
schema: $(NPM_STAMP)
	node build.mjs --json-schema

clean:
	rm -rf dist

## ---- packaging: the Debian package and its proof under systemd (docs/operations.md) ----
DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
DEB_STAGE = dist/deb/vr6-agent-$(DEB_VERSION)
DEB_FILE = dist/deb/vr6-agent_$(DEB_VERSION)_$(shell dpkg --print-architecture).deb
DEB_BUILD_PACKAGES := dpkg-dev debhelper devscripts lintian fakeroot
PACKAGE_TEST_PACKAGES := debootstrap systemd-container python3

# Installs the Debian packages named in $(1) that are missing; does nothing when all are there.
define apt_install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: deb deb-deps lintian test-package test-package-deps

deb-deps:
	$(call apt_install_missing,$(DEB_BUILD_PACKAGES))

## deb: dist/deb/vr6-agent_<version>_<arch>.deb from a staged copy of the tree (dpkg-buildpackage -us -uc -b), then lintian.
deb: deb-deps build
	rm -rf dist/deb
	mkdir -p $(DEB_STAGE)/dist $(DEB_STAGE)/docs $(DEB_STAGE)/src
	cp -a debian systemd README.md $(DEB_STAGE)/
	cp -a src/native $(DEB_STAGE)/src/
	cp docs/*.md $(DEB_STAGE)/docs/
	cp dist/vr6-agent.js dist/vr6ctl.js $(DEB_STAGE)/dist/
	cd $(DEB_STAGE) && dpkg-buildpackage -us -uc -b
	@$(MAKE) --no-print-directory lintian
	@echo "built $(DEB_FILE)"

## lintian: the built package's lintian report; errors fail (docs/operations.md explains each remaining tag).
lintian: deb-deps
	lintian --fail-on error --info --display-info $(DEB_FILE)

test-package-deps:
	$(call apt_install_missing,$(PACKAGE_TEST_PACKAGES))

## test-package: boots the .deb in a Debian 12 container under systemd (debootstrap rootfs cached in /var/cache/vr6-agent-test).
test-package: deb test-package-deps
	npx esbuild test/package/main.ts --bundle --platform=node --target=node18 --format=cjs --log-level=warning --outfile=dist/test-package.js
	node dist/test-package.js $(DEB_FILE)

## ---- bench: the firewall benchmark and the agent's own path, against the performance targets (bench/README.md) ----

## bench: root; runs in a throwaway network namespace of its own; about 4 minutes. BENCH_ARGS="--runs 3" etc.
.PHONY: bench
bench: deps dist/vr6-nft-genid dist/vr6-route-genid
	@[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time; }
	node bench/build.mjs
	node_modules/.bin/node dist/bench/firewall-bench.cjs $(BENCH_ARGS)
	node_modules/.bin/node dist/bench/agent-path.cjs

## bench-cloudstack: no root; what the cloudstack source costs per change of a 50-tier, 10,000-rule VPC's databags (bench/README.md).
.PHONY: bench-cloudstack
bench-cloudstack: deps
	node bench/build.mjs
	node_modules/.bin/node dist/bench/cloudstack-import.cjs

## bench-routed: root; a routed prefix moved under pings, and 1000 of them, in lab namespaces of its own (bench/README.md).
.PHONY: bench-routed
bench-routed: deps build
	node bench/build.mjs
	node_modules/.bin/node dist/bench/routed-bench.cjs

## bench-routed-parse: no root; the frame parse and validation of one move among 1000 routed prefixes, in fresh Node 18 processes (bench/README.md).
.PHONY: bench-routed-parse
bench-routed-parse: deps
	node bench/build.mjs
	node_modules/.bin/node dist/bench/routed-parse.cjs

## bench-bgp: root; the BGP benchmark in lab namespaces of its own (bench/README.md); about a minute. BENCH_ARGS="--runs 3".
.PHONY: bench-bgp
bench-bgp: deps build
	node bench/build.mjs
	node_modules/.bin/node dist/bench/bgp-bench.cjs $(BENCH_ARGS)

## bench-failover: root; a redundant pair's failovers in lab namespaces of their own (bench/README.md); about 3 minutes. BENCH_ARGS="--rounds 5 --smallest-cs 1".
.PHONY: bench-failover
bench-failover: deps build
	node bench/build.mjs
	node_modules/.bin/node dist/bench/failover-bench.cjs $(BENCH_ARGS)
