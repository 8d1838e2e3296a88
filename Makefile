# The two commands of the README:
#   make run   build and start the local three-node cluster described in cluster.yaml
#   make test  build and run the whole test suite
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT_BUILD_FLAGS ?=

.PHONY: run test deps build release microbench example native-example wasm-examples openapi ui-test ui-test-run api-fuzz deploy-check

# Installs the system packages the build needs on a fresh Debian machine.
deps:
	@if ! pkg-config --exists yaml-0.1 2>/dev/null || ! command -v curl >/dev/null; then \
		echo "installing libyaml-dev, pkg-config and curl with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libyaml-dev pkg-config curl; \
	fi

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

release: deps
	swift build -c release $(SWIFT_BUILD_FLAGS)

# The randomized fault simulation runs twice: SIM_SEEDS seeds in a release build on every
# core (raftsim), then for a time budget inside the debug test suite (RAFT_SIM_BUDGET seconds).
SIM_SEEDS ?= 10000

test: deps native-example wasm-examples
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift build -c release --product raftsim $(SWIFT_BUILD_FLAGS)
	"$$(swift build -c release --show-bin-path $(SWIFT_BUILD_FLAGS))/raftsim" --seeds $(SIM_SEEDS)
	$(MAKE) example
	Tests/run-suite.sh $(SWIFT_BUILD_FLAGS)
	$(MAKE) ui-test-run deploy-check

# The web console in headless Chromium (Tests/ui/console.mjs): three debug rafthost nodes, the
# page on a follower, a key written through the page and read back with raftctl, the leader
# SIGKILLed and the new one shown; screenshots in build/ui-test/. Installs Debian's chromium
# (and nodejs) when missing. About 8 s once built; `make test` runs it after the suite.
UI_TEST_OUT ?= build/ui-test
ui-test: deps
	swift build $(SWIFT_BUILD_FLAGS)
	$(MAKE) ui-test-run

ui-test-run:
	@if ! command -v chromium >/dev/null || ! command -v node >/dev/null; then \
		echo "installing chromium and nodejs with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium nodejs; \
	fi
	BIN="$$(swift build --show-bin-path $(SWIFT_BUILD_FLAGS))"; \
		RAFTHOST="$$BIN/rafthost" RAFTCTL="$$BIN/raftctl" node Tests/ui/console.mjs $(UI_TEST_OUT)

# The plugin package a user copies (Examples/Counter): its build, its tests, and its
# end-to-end check (three nodes of its own host, curl and raftctl call, one node killed).
example: deps
	cd Examples/Counter && swift build --build-tests && swift test --skip-build
	RAFTCTL="$$(swift build --show-bin-path $(SWIFT_BUILD_FLAGS))/raftctl" Examples/Counter/e2e.sh

# The native plugins that the stock rafthost loads from plugins.yaml and the tests load:
# Examples/NativeCounter's Swift library (libNativeCounter.so) and its C one (libCKeyValue.so).
native-example: deps
	cd Examples/NativeCounter && swift build
	mkdir -p Examples/NativeCounter/.build/c
	cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -O2 -Iinclude \
		-o Examples/NativeCounter/.build/c/libCKeyValue.so Examples/NativeCounter/c/kv.c

# The WebAssembly plugins of Examples/ and the misbehaving modules the WasmPlugins tests load,
# built with the Swift toolchain's own clang and wasm-ld into build/ folders (not committed).
SWIFT_TOOLCHAIN_BIN := $(dir $(realpath $(shell command -v swiftc)))
WASM_CC := $(SWIFT_TOOLCHAIN_BIN)clang --target=wasm32 -nostdlib -O2 -Wall -Wextra -Werror -Wl,--no-entry
EMBEDDED_SWIFTC := $(SWIFT_TOOLCHAIN_BIN)swiftc -target wasm32-unknown-none-wasm \
	-enable-experimental-feature Embedded -wmo -parse-as-library -Osize -Xfrontend -disable-stack-protector \
	-Xclang-linker -nostdlib -Xlinker --no-entry
WASM_TEST_MODULES := Tests/WasmPluginsTests/Modules
WASM_BUILDS := Examples/WasmCounter/build/counter.wasm Examples/WasmKeyValue/build/kv.wasm \
	$(WASM_TEST_MODULES)/build/misbehaving.wasm $(WASM_TEST_MODULES)/build/imports-clock.wasm \
	$(WASM_TEST_MODULES)/build/missing-snapshot.wasm

wasm-examples: $(WASM_BUILDS)

Examples/WasmCounter/build/counter.wasm: Examples/WasmCounter/Counter.swift
	@mkdir -p $(@D)
	$(EMBEDDED_SWIFTC) $< -o $@

Examples/WasmKeyValue/build/kv.wasm: Examples/WasmKeyValue/kv.c
	@mkdir -p $(@D)
	$(WASM_CC) $< -o $@

$(WASM_TEST_MODULES)/build/misbehaving.wasm: $(WASM_TEST_MODULES)/misbehaving.c
	@mkdir -p $(@D)
	$(WASM_CC) $< -o $@

$(WASM_TEST_MODULES)/build/imports-clock.wasm: $(WASM_TEST_MODULES)/misbehaving.c
	@mkdir -p $(@D)
	$(WASM_CC) -DIMPORT_CLOCK -Wl,--allow-undefined $< -o $@

$(WASM_TEST_MODULES)/build/missing-snapshot.wasm: $(WASM_TEST_MODULES)/misbehaving.c
	@mkdir -p $(@D)
	$(WASM_CC) -DWITHOUT_SNAPSHOT $< -o $@

# Starts the three nodes of cluster.yaml (data under ./data, so a second run resumes from it)
# and stops them on Ctrl-C.
run: release
	"$$(swift build -c release --show-bin-path $(SWIFT_BUILD_FLAGS))/rafthost" up --config cluster.yaml

# Microbenchmarks of the engine, the wire codec and storage (ordo-one/benchmark), in their own
# build folder so the main build never sees the benchmark package.
microbench: deps
	RAFTHOST_BENCHMARKS=1 swift package --scratch-path .build-bench --disable-sandbox benchmark $(BENCH_ARGS)

# openapi.yaml, embedded in the binary (GET /v1/openapi.yaml) as a Swift string: run after
# editing openapi.yaml; OpenAPITests fails while the two differ.
OPENAPI_SWIFT := Sources/ReplicationHost/Console/OpenAPIDocument.swift
openapi:
	{ echo '// Generated from openapi.yaml by `make openapi`: edit openapi.yaml, then run it.'; \
	  echo '// OpenAPITests checks that the two are the same.'; echo; \
	  echo '/// The OpenAPI 3.1 description of the HTTP API, served at `GET /v1/openapi.yaml`.'; \
	  echo 'enum OpenAPIDocument {'; echo '    static let yaml = #"""'; \
	  cat openapi.yaml; echo '"""#'; echo '}'; } > $(OPENAPI_SWIFT)

# schemathesis (PyPI, installed into build/api-fuzz/venv) against a live three-node cluster of
# the debug rafthost, from openapi.yaml (the very text the node serves, OpenAPITests checks;
# loaded from its URL, schemathesis would leave GET /v1/openapi.yaml out): every check (no 5xx, statuses,
# content types, headers and bodies as described, 405 with Allow). Summary and reports in
# build/api-fuzz/; MAX_EXAMPLES=N per operation (50 by default), about half a minute.
api-fuzz: deps
	swift build $(SWIFT_BUILD_FLAGS)
	SCHEMA=openapi.yaml RAFTHOST="$$(swift build --show-bin-path $(SWIFT_BUILD_FLAGS))/rafthost" \
		Tests/api-fuzz/run.sh build/api-fuzz

# systemd-analyze verify of the unit (deploy/rafthost@.service, instance n1), its ExecStart
# pointed at the built rafthost (the unit's own path, /usr/local/bin/rafthost, is where an
# install puts it); a warning fails it too. Installs systemd's tools with apt-get when missing.
deploy-check:
	@command -v systemd-analyze >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq systemd; }
	@dir="$$(mktemp -d)"; trap 'rm -rf "$$dir"' EXIT; \
		sed "s#/usr/local/bin/rafthost#$$(swift build --show-bin-path $(SWIFT_BUILD_FLAGS))/rafthost#" \
			deploy/rafthost@.service >"$$dir/rafthost@.service"; \
		out="$$(systemd-analyze verify "$$dir/rafthost@n1.service" 2>&1)" && [ -z "$$out" ] \
			|| { echo "$$out"; echo "deploy-check: systemd-analyze verify found problems" >&2; exit 1; }; \
		echo "deploy-check: systemd-analyze verify rafthost@n1.service: no warnings"
