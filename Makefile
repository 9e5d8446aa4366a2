# tessera: build, test and measure. `make help` lists the targets.
GO        ?= go
BIN       := bin/tessera
PKGS      := ./...
FUZZTIME  ?= 10s

.PHONY: all build build-simd pgo test cross lint fuzz bench demo cover clean help

all: build

build: ## build bin/tessera
	$(GO) build -o $(BIN) ./cmd/tessera

build-simd: ## build bin/tessera with the AVX box test (Go's experimental simd/archsimd)
	GOEXPERIMENT=simd $(GO) build -o $(BIN) ./cmd/tessera

# cmd/tessera/default.pgo is a CPU profile of the render kernel and the BVH
# builder, with which every build of the command (go build picks it up) lets
# the compiler inline the hot calls: 3-4% fewer instructions per ray, the
# same pixels bit for bit (README "Speed"). Regenerate it after changing the
# kernel.
pgo: ## regenerate cmd/tessera/default.pgo from render's benchmarks
	cd render && $(GO) test -run '^$$' -bench 'RenderTile|BVHBuildBig' -benchtime 2s -cpuprofile ../cmd/tessera/default.pgo . && rm -f render.test

test: ## the whole suite (race detector, fuzz seed corpora included), and render with the AVX box test; CI runs this
	$(GO) vet $(PKGS)
	$(GO) test -race -timeout 9m $(PKGS)
	GOEXPERIMENT=simd $(GO) test -timeout 3m ./render

# The systems a node must run on. The first build of each compiles the
# standard library for it (about a minute on 2 cores); later ones come from
# the build cache in seconds. Without the profile: it only checks that
# everything compiles, and the profile would compile everything twice.
CROSS := linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/amd64 darwin/arm64

cross: ## build every package for Linux, Windows and macOS on amd64 and arm64 (CI runs this)
	@set -e; for t in $(CROSS); do echo "== $$t"; GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build -pgo=off ./...; done

lint: ## go vet, gofmt, staticcheck when installed
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null; then staticcheck $(PKGS); else echo "staticcheck not installed; skipped"; fi

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench: build ## Go micro-benchmarks, then tessera bench (BENCHFLAGS=-quick, -json, -runs 5...; see BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(BIN) bench $(BENCHFLAGS)

demo: build ## a registry, two nodes and a controller on loopback render the Cornell box
	$(BIN) demo -o cornell.png

cover: ## test coverage summary
	$(GO) test -coverprofile=cover.out $(PKGS) && $(GO) tool cover -func=cover.out | tail -n 1

clean:
	rm -rf bin cover.out

help:
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
