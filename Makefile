GO ?= go

.PHONY: all build test race vet lint fuzz fuzz-targets prop bench interop vmtest ci

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
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi

# staticcheck from PATH, else from GOPATH/bin, installed there at the
# version CI uses when it is missing.
STATICCHECK_VERSION = v0.8.2
lint: vet
	@sc=$$(command -v staticcheck || echo "$$($(GO) env GOPATH)/bin/staticcheck"); \
	if [ ! -x "$$sc" ]; then \
		echo "installing staticcheck $(STATICCHECK_VERSION)"; \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) || exit 1; \
	fi; \
	"$$sc" ./...

# Each fuzz target of every package for FUZZTIME (go test fuzzes one
# target at a time), then ctaptest fuzz against the in-process key and a
# UDP daemon for as long. CI runs `make fuzz-targets FUZZTIME=300x`: an
# iteration count, because a short -fuzztime duration can fail with the
# engine's own "context deadline exceeded".
FUZZTIME ?= 30s
fuzz: fuzz-targets
	FUZZ_DURATION=$(FUZZTIME) bash interop/devfuzz.sh

fuzz-targets:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# Model-based checks against the in-process key and a UDP daemon;
# PROP_CHECKS sequences each (ctaptest prop, see prop/).
PROP_CHECKS ?= 2000
prop:
	PROP_CHECKS=$(PROP_CHECKS) PROP_UDP_CHECKS=$(PROP_CHECKS) bash interop/prop.sh

# Compare runs with: benchstat old.txt new.txt
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=6 ./authenticator/ ./ctaphid/ ./virtkeytest/ | tee bench.txt

# The suite and python-fido2 against every profile over UDP; the table
# profile x outcome goes to PROFILES_OUT/profiles-table.md.
interop:
	bash interop/profiles.sh
	bash interop/webauthn.sh

# Boot Debian's 6.1 kernel in QEMU and test the key over /dev/uhid with
# libfido2's fido2-tools and ctaptest (root; 20-30 s; see vm/README.md).
vmtest:
	GO=$(GO) bash vm/run.sh

ci:
	bash .ci/run
