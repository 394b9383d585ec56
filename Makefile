# Device Readings: the commands the README names.
SWIFT ?= swift
PORT ?= 3000

.PHONY: run build release test lint format bench-ingest bench-durability memory clean

## Start the server on the embedded default (memory engine) at 127.0.0.1:$(PORT).
run: release
	.build/release/device-readings serve --port $(PORT)

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

## Run every test (with a throwaway PostgreSQL cluster when PostgreSQL is installed).
test:
	$(SWIFT) build --build-tests
	scripts/with-postgres.sh scripts/with-deadline.sh $(SWIFT) test --skip-build

## Style: `make format` rewrites the sources as .swift-format says; `make lint` (run by CI)
## fails on any difference or lint warning.
SOURCES = Sources Tests Benchmarks Package.swift
format:
	$(SWIFT) format --in-place --recursive --parallel $(SOURCES)
lint:
	$(SWIFT) format lint --strict --recursive --parallel $(SOURCES)

## Engine-only benchmarks (ordo-one/benchmark, built in release by its plugin); see
## Benchmarks/README.md. One benchmark, by regex: make bench FILTER='insert messy'.
BENCH_SCRATCH ?= .build-benchmarks
.PHONY: bench figures
bench:
	$(SWIFT) package --disable-sandbox --scratch-path $(BENCH_SCRATCH) benchmark --target StorageBenchmarks $(if $(FILTER),--filter '$(FILTER)')

## The storage figures on the two 50M-reading datasets (10,000 devices × 5,000 readings, regular and messy), without the framework.
figures:
	$(SWIFT) run -c release --scratch-path $(BENCH_SCRATCH) StorageFigures

## Durability modes and recovery, and memory per reading, with the project's own load generator
## (nothing outside this repository).
bench-durability: release
	scripts/bench-durability.sh 8 10000
memory: release
	scripts/measure-memory.sh 5000 1000

## Ingest side by side with the prototype's design: needs an outside comparison kit (its wrk
## driver, workloads and the prototype's server), whose folder BENCH names, e.g.
## make bench-ingest BENCH=/path/to/kit.
bench-ingest: release
	ROUNDS=3 scripts/bench-ingest.sh regular 8 1 100 1000

## Any arrival order (in order, late, shuffled, reversed) and a billion readings, with the
## project's own load generator only; see docs/benchmarks.md.
.PHONY: bench-order bench-billion
bench-order: release
	scripts/bench-order.sh .build/release/device-readings 3
bench-billion: release
	scripts/bench-billion.sh .build/release/device-readings /tmp/device-readings-billion

clean:
	rm -rf .build
