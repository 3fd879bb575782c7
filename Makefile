# husk build, demo and tests. `make test` is what CI runs (via .ci/run).

GO        ?= go
PREFIX    ?= /usr/local
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo dev)
GIT_COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# cgo stays on: the nsenter constructor is C, and seccomp uses libseccomp.
# The binary is linked statically and not as PIE: husk starts on every
# container operation, and the dynamic loader's work (loading libc and
# libseccomp, relocating a PIE) costs ~0.9 ms each time (see README, "Build
# notes"). netgo and osusergo keep glibc's NSS, which cannot work in a
# static binary, out of it.
#
# With musl-gcc (Debian: musl-tools, which `make deps` installs) the C side
# is linked with musl rather than glibc: glibc's start-up probes the CPU
# with CPUID, a VM exit each, and husk starts ~0.8 ms faster and 0.8 MB
# smaller without it. Debian's libseccomp.a is used as is (copied alone
# into $(MUSL_DIR), so that no glibc library is found beside it), with
# scripts/musl/compat.c for the one glibc-only symbol it needs. musl's
# default thread stack (128 KiB) is raised for the threads cgo creates.
#
# -Wl,--wrap=pthread_create routes every thread creation through
# cmd/husk/sysmon.c, which gives the Go runtime's sysmon thread a coarse
# timer (cmd/husk/sysmon.go: ~0.6 ms of every `husk run`).
export CGO_ENABLED := 1
GO_BUILDFLAGS := -trimpath -buildvcs=false -tags netgo,osusergo
MUSL_GCC := $(shell command -v musl-gcc 2>/dev/null)
MUSL_DIR := .build/musl
ifneq ($(MUSL_GCC),)
HUSK_CC_ENV := CC=musl-gcc CGO_CFLAGS="-O2 -idirafter /usr/include -idirafter /usr/include/$(shell gcc -print-multiarch)" CGO_LDFLAGS="-L$(CURDIR)/$(MUSL_DIR)"
EXTLDFLAGS  := -static -Wl,--wrap=pthread_create -Wl,-z,stack-size=1048576 -L$(CURDIR)/$(MUSL_DIR) -lhuskcompat
HUSK_DEPS   := $(MUSL_DIR)/libseccomp.a $(MUSL_DIR)/libhuskcompat.a
else
EXTLDFLAGS  := -static -Wl,--wrap=pthread_create
endif
GO_LDFLAGS    := -s -w -linkmode external -extldflags '$(EXTLDFLAGS)' -X main.version=$(VERSION) -X main.gitCommit=$(GIT_COMMIT)

# The Go runtime's start-up is edited for husk through `go build -overlay`
# (scripts/rtoverlay: no cgroup read when containermaxprocs=0, gcenable
# after the init functions, no cgo template thread: ~0.35 ms per process
# on the test machine). The overlay holds edited copies of this toolchain's
# own runtime files, made under .build; with a Go version whose runtime
# differs from what the edits expect it is empty, and the runtime is left
# as it is.
GOVERSION  := $(shell $(GO) env GOVERSION)
RT_OVERLAY := .build/rtoverlay/$(GOVERSION)/overlay.json

# husk is built with Go's previous garbage collector while the toolchain
# offers it (GOEXPERIMENT=nogreenteagc, Go 1.25-1.26): a husk process lives
# milliseconds and never collects, but the Green Tea collector's mark bits
# at the end of every new small-object span touch another page of it:
# ~15 more page faults per process, ~0.2 ms on the test machine. A
# toolchain without the experiment builds with its default collector.
HUSK_GOEXPERIMENT := $(shell GOEXPERIMENT=nogreenteagc $(GO) env GOEXPERIMENT >/dev/null 2>&1 && echo nogreenteagc)

INIT_HELPER := nsenter/inithelper/bin/husk-init

# Packages whose tests need neither the husk binary nor the integration
# harness in ./tests.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v -e '/tests$$' -e '/tests/')

.PHONY: all husk build demo test deps unit integration bats lint clean install bench test-v2

all: husk

build: husk

husk: $(INIT_HELPER) $(HUSK_DEPS) $(RT_OVERLAY)
	$(HUSK_CC_ENV) GOEXPERIMENT=$(HUSK_GOEXPERIMENT) $(GO) build $(GO_BUILDFLAGS) -overlay $(RT_OVERLAY) -ldflags "$(GO_LDFLAGS)" -o husk ./cmd/husk

$(RT_OVERLAY): scripts/rtoverlay/main.go
	$(GO) run ./scripts/rtoverlay -goroot "$$($(GO) env GOROOT)" -o $(dir $@)

$(MUSL_DIR)/libseccomp.a:
	mkdir -p $(MUSL_DIR)
	cp "$$(gcc -print-file-name=libseccomp.a)" $@

$(MUSL_DIR)/libhuskcompat.a: scripts/musl/compat.c
	mkdir -p $(MUSL_DIR)
	musl-gcc -O2 -Wall -c -o $(MUSL_DIR)/compat.o scripts/musl/compat.c
	ar rcs $@ $(MUSL_DIR)/compat.o

# husk-init, the container-side C code as a small static program that husk
# embeds and runs instead of re-executing itself (nsenter/inithelper).
$(INIT_HELPER): nsenter/cmd/husk-init/main.c $(wildcard nsenter/*.c nsenter/*.h) scripts/build-init-helper.sh
	./scripts/build-init-helper.sh $@

demo:
	./scripts/demo.sh

deps:
	./scripts/install-deps.sh

test: deps
	$(MAKE) lint
	$(MAKE) build
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) bats

unit:
	$(GO) test -race $(UNIT_PKGS)

integration: husk
	HUSK_BINARY=$(CURDIR)/husk $(GO) test -count=1 ./tests/...

bats: husk
	HUSK=$(CURDIR)/husk bats bats/

# The cgroup v2 paths, in a qemu (TCG) guest whose only hierarchy is
# cgroup2: for hosts on cgroup v1 or hybrid. Installs qemu and a Debian
# kernel if missing; see scripts/vm/run-v2-tests.sh.
test-v2:
	GO=$(GO) ./scripts/vm/run-v2-tests.sh

# husk against runc and crun, then the Go benchmarks; BENCH_FLAGS go to the
# bench program, e.g. BENCH_FLAGS="-n 10".
bench:
	GO=$(GO) ./scripts/bench.sh $(BENCH_FLAGS)

# lint also bans what security lessons taught (as runc's linter config):
# os.Create truncates without O_EXCL, which made a past runc CVE worse, and
# os.IsNotExist/os.IsExist miss wrapped errors (use errors.Is).
lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@out=$$(git grep -n -E 'os\.(Create|IsNotExist|IsExist)\(' -- '*.go'); \
	if [ -n "$$out" ]; then echo "banned call (see Makefile):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

install: husk
	install -D -m 0755 husk $(DESTDIR)$(PREFIX)/sbin/husk

clean:
	rm -f husk $(INIT_HELPER) nsenter/inithelper/husk_init.h
	rm -rf .build
	rm -rf demo-bundle
