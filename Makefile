# Device Readings: the commands the README names.
SWIFT ?= swift
PORT ?= 3000

.PHONY: run build release test bench-ingest clean

## Start the server on the embedded default (memory engine) at 127.0.0.1:$(PORT).
run: release
	.build/release/device-readings serve --port $(PORT)

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

## Run every test.
test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build
