# The two commands of the README:
#   make run   build and start the local three-node cluster described in cluster.yaml
#   make test  build and run the whole test suite
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT_BUILD_FLAGS ?=

.PHONY: run test deps build release

# Installs the system packages the build needs on a fresh Debian machine.
deps:
	@if ! pkg-config --exists yaml-0.1 2>/dev/null; then \
		echo "installing libyaml-dev (and pkg-config) with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libyaml-dev pkg-config; \
	fi

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

release: deps
	swift build -c release $(SWIFT_BUILD_FLAGS)

test: deps
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift test --skip-build $(SWIFT_BUILD_FLAGS)

run: release
	@echo "rafthost is not built yet (see the open host issue): 'make run' will start the three-node"
	@echo "cluster of cluster.yaml here once it exists. For now it builds the package in release mode."
