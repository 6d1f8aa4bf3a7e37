# The two quick-start commands (`make run`, `make test`) and the other entry points.
# Each installs missing Debian packages first, then builds with CMake into build/.
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
CONFIG     ?=

.PHONY: all deps build run test asan tsan clean

all: build

deps:
	@./scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/mqttd -v $(if $(CONFIG),-c $(CONFIG))

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer, and under ThreadSanitizer.
asan:
	@$(MAKE) --no-print-directory test BUILD=build-asan BUILD_TYPE=Debug CMAKE_FLAGS=-DMQTTD_SANITIZE=address

tsan:
	@$(MAKE) --no-print-directory test BUILD=build-tsan BUILD_TYPE=Debug CMAKE_FLAGS=-DMQTTD_SANITIZE=thread

clean:
	rm -rf build build-asan build-tsan

# mqttd against Mosquitto with `mqttc bench`: bench/compare.py (the targets, docs/benchmarks.png),
# bench/durable.py (durable QoS 1) and bench/transports.py (per transport, TLS handshakes) each
# write their section of docs/BENCHMARKS.md. The full run takes about 14 minutes, the quick one
# about 4. Not part of `make test`.
.PHONY: bench bench-quick
bench: build
	/usr/bin/python3 bench/compare.py --build $(BUILD)
	/usr/bin/python3 bench/durable.py --build $(BUILD)
	/usr/bin/python3 bench/transports.py --build $(BUILD)

bench-quick: build
	/usr/bin/python3 bench/compare.py --quick --build $(BUILD)
	/usr/bin/python3 bench/durable.py --quick --build $(BUILD)
	/usr/bin/python3 bench/transports.py --quick --build $(BUILD)

# MQTT over TCP vs QUIC on a 100 ms, lossy link between two network namespaces
# (bench/quic/run.py; root): writes the QUIC table into docs/BENCHMARKS.md and
# docs/benchmarks-quic.png. About 8 minutes. Not part of `make test`.
.PHONY: bench-quic
bench-quic: build
	/usr/bin/python3 bench/quic/run.py --build $(BUILD)

# libFuzzer targets (fuzz/README.md): builds them with clang into build-fuzz and runs each for
# FUZZ_SECONDS (default 300) over its seed corpus, one after the other; crashes land in
# build-fuzz/artifacts/<target>/. Not part of `make test`, which replays the corpus and the
# regression inputs instead.
FUZZ_SECONDS ?= 300
.PHONY: fuzz
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/run.sh
