GO ?= go

.PHONY: all build test race vet lint fuzz bench interop vmtest ci

all: build test

build:
	$(GO) build ./...
	$(GO) build -o bin/virtkey ./cmd/virtkey
	$(GO) build -o bin/ctaptest ./cmd/ctaptest

test:
	$(GO) test ./...

race:
	$(GO) test -race ./ctaphid/ ./client/ ./authenticator/

vet:
	$(GO) vet ./...
	gofmt -l . | tee /dev/stderr | (! read)

lint: vet
	staticcheck ./...

# Each fuzz target for FUZZTIME (go test runs one target at a time).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeRequest$$' -fuzztime=$(FUZZTIME) ./ctap/
	$(GO) test -run='^$$' -fuzz='^FuzzParseAuthData$$' -fuzztime=$(FUZZTIME) ./ctap/
	$(GO) test -run='^$$' -fuzz='^FuzzReassembly$$' -fuzztime=$(FUZZTIME) ./ctaphid/
	$(GO) test -run='^$$' -fuzz='^FuzzParsePacket$$' -fuzztime=$(FUZZTIME) ./ctaphid/
	$(GO) test -run='^$$' -fuzz='^FuzzHandle$$' -fuzztime=$(FUZZTIME) ./authenticator/
	$(GO) test -run='^$$' -fuzz='^FuzzParseResponses$$' -fuzztime=$(FUZZTIME) ./client/
	$(GO) test -run='^$$' -fuzz='^FuzzDevice$$' -fuzztime=$(FUZZTIME) ./fuzz/

# Compare runs with: benchstat old.txt new.txt
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=6 ./authenticator/ ./ctaphid/ ./virtkeytest/ | tee bench.txt

interop:
	bash interop/udp.sh

# Boot Debian's 6.1 kernel in QEMU and test the key over /dev/uhid with
# libfido2's fido2-tools and ctaptest (root; 20-30 s; see vm/README.md).
vmtest:
	GO=$(GO) bash vm/run.sh

ci:
	bash .ci/run
