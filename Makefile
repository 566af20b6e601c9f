# Plexus: the two commands a newcomer needs are "make run" and "make test".
GO        ?= go
PROFILE   ?= local
ARGS      ?=
BIN       := bin/plexus

.PHONY: all build run test test-short vet bench deps clean interop interop-matrix fuzz attack natlab-relay natlab-birthday scale

all: build

build:
	$(GO) build -o $(BIN) ./cmd/plexus

## run: start a node (auto-initialises ~/.plexus or $$PLEXUS_PATH). PROFILE=local
## keeps it on loopback; PROFILE=default listens on every interface with mDNS.
## The profile applies at start and is not written into config.toml.
run: build
	PLEXUS_PROFILE=$(PROFILE) ./$(BIN) daemon $(ARGS)

## test: every test, with the race detector. Installs what the tests need first.
test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...
	@# The race detector makes the 50-node discovery test too slow, so under
	@# -race it runs 20 nodes; run the full-size network once without it.
	$(GO) test -count=1 -timeout 5m -run 'Network|Explore|Churn' ./discovery

## test-short: the quick subset, without the race detector.
test-short:
	$(GO) test -short -count=1 -timeout 10m ./...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## interop: the interop suite against js-libp2p (Node and headless Chromium),
## one subtest per check of docs/interop.md. Installs its npm packages first.
interop: deps
	$(GO) vet -tags interop ./interop
	$(GO) test -tags interop -count=1 -timeout 5m -run TestInterop ./interop

## interop-matrix: run the interop suite and rewrite docs/interop.md from it.
interop-matrix: deps
	$(GO) test -tags interop -count=1 -timeout 5m -run TestInterop ./interop -update-matrix

## deps: system packages the tests use (network namespaces for the mDNS and
## NAT tests; Node.js and chromium for the interop suite) and the interop
## suite's npm packages (npm ci). Needs root or password-less sudo for apt-get;
## otherwise it prints what to run, and the tests that need them fail saying so.
deps:
	@bash scripts/install-deps.sh

## bench: the benchmark suite; writes bench/report.md and bench/report.json.
bench:
	bash bench/run.sh

## natlab-birthday: birthday hole punching against DCUtR alone in the NAT lab
## (root; symmetric/cone, cone/symmetric, symmetric/symmetric at 0 and 25 ms
## per hop, about 15 minutes); rewrites its section of bench/natlab.md.
## make test runs the lab's quick birthday tests (TestBirthdayPunch*).
natlab-birthday: deps
	PLEXUS_NATLAB_BIRTHDAY_FIGURES=$(CURDIR)/bench/natlab.md $(GO) test -count=1 -timeout 60m -run TestBirthdayFigures -v ./natlab

## fuzz: a short run of every Go fuzz target (FUZZTIME per target, default 4s);
## the seed corpus is in each package's testdata/fuzz. FUZZ_SAVE=1 keeps what it finds.
fuzz:
	bash scripts/fuzz.sh

## attack: the adversarial suite of issue 20 (hostile go-libp2p peers against
## real daemons on loopback); writes bench/attack.md. ATTACK_ARGS="-only 1,2 -quick".
attack: build
	$(GO) run ./attack/cmd/attack -bin $(BIN) -out bench/attack.md $(ATTACK_ARGS)

## natlab-relay: the NAT lab's relay cases of issue 19 (natlab/relaycases_test.go),
## the slow one included (about 1.5 minutes; needs root). "make test" runs all
## but TestRelayLimitPubSub.
natlab-relay: deps
	PLEXUS_NATLAB_SLOW=1 $(GO) test -count=1 -timeout 15m -run 'TestStaticRelayOnly|TestFullConePublic|TestRelayLimitPubSub|TestHolePunchDialsOnlyUsableAddrs' -v ./natlab

## scale: the network at scale, by simulation (issue 18): Kademlia on 1,000
## and 10,000 in-process nodes, gossipsub on 1,000 (package sim); writes
## bench/scale.md. About 20-40 minutes on a shared 2-core machine.
## SCALE_ARGS="-sizes 1000 -gossip 1000" for the smaller half.
scale:
	$(GO) run ./sim/cmd/scale -out bench/scale.md $(SCALE_ARGS)

clean:
	rm -rf bin
