# tilld — the two commands of the quick start are `make demo` and `make test`.
# Both install the Debian packages they need when missing (run as root, or with sudo).

GO          ?= go
BIN         := bin
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X github.com/tilld/tilld/version.Version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOBIN       := $(shell $(GO) env GOPATH)/bin

# System packages the build and tests use: libpcsclite-dev for the PC/SC reader (cgo);
# pcscd + vsmartcard-vpcd run a virtual contactless reader (tests start a private
# pcscd); socat makes serial pty pairs; postgresql-15 is the HQ store's throwaway test
# cluster (the tests start and stop it themselves); chromium is the headless
# browser of the e2e browser tests (a web page on the till attacking its API, the
# till page itself), driven with chromedp.
TEST_DEBS := libpcsclite-dev pcscd vsmartcard-vpcd socat postgresql-15 chromium

.PHONY: all build demo test test-hid test-powercut test-windows windows deps check unit fuzz fuzz-long clean deb deb-check

all: build

build:
	@scripts/ensure-debs.sh libpcsclite-dev
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## demo: start HQ, an enrolled terminal, a fake reader and the till page on loopback.
demo: build
	$(BIN)/tilld demo

## test: everything CI runs — formatting, vet, staticcheck, all tests for real, the QEMU
## HID tier, and the .deb packages built, linted, installed, run and removed. The
## packages are built while the unit tests run: the e2e tests mostly wait on sockets and
## timers, and the build fills the idle cores (output comes per target, when it ends).
test: deps check
	$(MAKE) -j2 --output-sync=target unit deb
	$(MAKE) test-hid test-powercut test-windows deb-check

deps:
	@scripts/ensure-debs.sh $(TEST_DEBS)
	@test -x $(GOBIN)/staticcheck || $(GO) install $(STATICCHECK)

check:
	@big=$$(git ls-files -z | xargs -0 stat -c '%s %n' 2>/dev/null | awk '$$1 > 1048576 { print $$2 }'); if [ -n "$$big" ]; then echo "tracked files over 1 MiB (a built binary committed by mistake?):"; echo "$$big"; exit 1; fi
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

## unit: the ledger's tests first and alone (they fsync thousands of times and take ~20 s
## on an idle disk, but minutes beside the e2e and PostgreSQL tests' fsyncs), then the rest.
unit:
	$(GO) test -count=1 -timeout 5m ./ledger/...
	$(GO) test -count=1 -timeout 15m $$($(GO) list ./... | grep -v '/ledger\(/\|$$\)')

## test-hid: the slow tier — a QEMU guest whose kernel presents a USB HID POS gadget
## that karalabe/hid enumerates, opens and reads (about a minute; CI runs it).
test-hid:
	sh device/hidpos/qemutest/run.sh

## test-powercut: the power-cut tier — tilld in a QEMU guest on an ext4 virtio disk,
## QEMU killed 20 times while sales are in flight, every acknowledged sale checked
## after each boot (docs/ledger.md, "Power cuts"). POWERCUT_FLAGS='-soak' cuts 200
## times; '-seed N' replays a run; '-v' shows the log as it goes.
POWERCUT_DEBS := qemu-system-x86 busybox-static cpio e2fsprogs socat xz-utils
POWERCUT_FLAGS ?=
test-powercut:
	@scripts/ensure-debs.sh $(POWERCUT_DEBS)
	@kernel=$$(scripts/qemu-kernel.sh) && \
	  $(GO) test -count=1 -timeout 3h -run '^TestPowerCut$$' ./e2e -powercut.kernel="$$kernel" $(POWERCUT_FLAGS)

## windows: tilld.exe, tillctl.exe, tillhq.exe for windows/amd64 (cgo with mingw-w64 for
## hid) and the .msi into dist/windows/ (packaging/windows/README.md).
windows:
	scripts/windows-build.sh $(VERSION)

## test-windows: the pure packages', the ledger's and the Windows parts' tests as
## windows/amd64 binaries under wine64, in a throwaway wine prefix (a few minutes).
test-windows:
	scripts/windows-test.sh

## deb: .deb packages of tilld (with tillctl) and tillhq for amd64 and arm64 into dist/.
deb:
	packaging/build.sh $(VERSION)

## deb-check: inspect the packages, lintian them, install/run/remove the amd64 tilld (root),
## then follow README's install section on them (e2e TestReadmeInstall: install, HQ init,
## starter ruleset, enroll, reader, doctor, a sale, HQ's report; purged at the end).
deb-check:
	packaging/check.sh dist
	$(GO) test -count=1 -timeout 10m -run '^TestReadmeInstall$$' ./e2e -install.debs=$(CURDIR)/dist

## fuzz: run every fuzz target for a while (FUZZTIME=30s by default). Minimizing an
## input the fuzzer finds interesting costs a number of runs that grows with the
## square of its length: the inputs here are ledger files and journals of kilobytes,
## which Go would otherwise minimize for a minute each (FUZZMINIMIZE bounds it).
FUZZMINIMIZE ?= 3s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(or $(FUZZTIME),30s) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg || exit 1; \
	  done; done

## fuzz-long: every fuzz target for FUZZTIME each (10m by default), FUZZJOBS (2) at a
## time with one worker each, then the table of execs, execs/s, new inputs and findings
## into docs/fuzzing.md (scripts/fuzz-long.sh says more). Not part of `make test`.
## A failing input stays in its package's testdata/fuzz: commit it with the fix.
fuzz-long:
	@scripts/ensure-debs.sh libpcsclite-dev
	FUZZTIME=$(or $(FUZZTIME),10m) GO=$(GO) scripts/fuzz-long.sh

clean:
	rm -rf $(BIN) dist
