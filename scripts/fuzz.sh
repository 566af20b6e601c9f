#!/usr/bin/env bash
# Runs every Go fuzz target for a short time (FUZZTIME per target, default
# 5s; 17 targets stay under 2 minutes on 2 cores). The seed corpus lives in
# each package's testdata/fuzz/<FuzzName>/ and runs with every "go test";
# FUZZ_SAVE=1 copies what this run found interesting (from the Go build
# cache) into testdata/fuzz so that it is kept in the repository.
# A crasher fails the run and is written to testdata/fuzz/<FuzzName>/ by go test.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
targets=(
	"./messaging FuzzReadFrame"
	"./messaging FuzzReadResponse"
	"./messaging FuzzReadBody"
	"./records FuzzUnmarshal"
	"./records FuzzValidate"
	"./records FuzzParseKey"
	"./perf FuzzServeStream"
	"./swarmkey FuzzParse"
	"./auth FuzzAuthenticateToken"
	"./auth FuzzSession"
	"./auth FuzzNormalizeName"
	"./auth FuzzParseHash"
	"./api FuzzRequestBody"
	"./api FuzzCredentials"
	"./pubsub FuzzValidateTopicName"
	"./internal/name FuzzCheck"
	"./internal/protoid FuzzCheck"
)
cache=$(go env GOCACHE)/fuzz/github.com/plexus-p2p/plexus
for t in "${targets[@]}"; do
	set -- $t
	pkg=$1 name=$2
	echo "== $pkg $name ($fuzztime)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel 1 "$pkg" 2>&1 | grep -v '^fuzz: elapsed' || {
		echo "fuzz: $pkg $name failed (the crasher is in ${pkg#./}/testdata/fuzz/$name/)"; exit 1; }
	if [ "${FUZZ_SAVE:-}" = 1 ] && [ -d "$cache/${pkg#./}/$name" ]; then
		mkdir -p "${pkg#./}/testdata/fuzz/$name"
		cp -n "$cache/${pkg#./}/$name"/* "${pkg#./}/testdata/fuzz/$name/" 2>/dev/null || true
	fi
done
