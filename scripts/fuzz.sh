#!/usr/bin/env bash
# Runs every Go fuzz target for a short time (FUZZTIME per target, default
# 4s: 19 targets in about 2 minutes on 2 cores). Each package's test binary
# is built once with fuzzing instrumentation and run once per target from
# the package directory, so its seed corpus (testdata/fuzz/<FuzzName>/, also
# run by every "go test") is used. What a run finds interesting goes to the
# Go build cache, as with "go test -fuzz"; FUZZ_SAVE=1 copies it into
# testdata/fuzz so that it is kept in the repository. A crasher fails the
# run and is written to <package>/testdata/fuzz/<FuzzName>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fuzztime=${FUZZTIME:-4s}
targets=(
	"./messaging FuzzReadFrame"
	"./messaging FuzzReadResponse"
	"./messaging FuzzReadBody"
	"./records FuzzUnmarshal"
	"./records FuzzValidate"
	"./records FuzzParseKey"
	"./perf FuzzServeStream"
	"./files FuzzReadBlockRequest"
	"./files FuzzReadCARAnswer"
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
module=$(go list -m)
cache=$(go env GOCACHE)/fuzz
bins=$(mktemp -d)
trap 'rm -rf "$bins"' EXIT
built=" "
for t in "${targets[@]}"; do
	set -- $t
	pkg=${1#./} name=$2
	bin="$bins/${pkg//\//_}.test"
	if [[ $built != *" $pkg "* ]]; then
		go test -c -fuzz=. -o "$bin" "./$pkg"
		built+="$pkg "
	fi
	echo "== $pkg $name ($fuzztime)"
	corpus="$cache/$module/$pkg"
	run() {
		(cd "$root/$pkg" && "$bin" -test.run='^$' -test.fuzz="^${name}\$" -test.fuzztime="$1" \
			-test.parallel=1 -test.fuzzcachedir="$corpus") 2>&1 | grep -v '^fuzz: elapsed'
	}
	if ! out=$(run "$fuzztime"); then
		echo "$out"
		# A bare "context deadline exceeded" with no failing input written is
		# go1.26's fuzz coordinator racing its own -fuzztime deadline
		# (go.dev/issue/75804, fixed in go1.27), not a finding: run the
		# target once more, bounded by a count of executions instead of a
		# time, which takes the deadline out of the coordinator (a second
		# timed run met the race again too often: 2 of 17 targets in one
		# CI run). A crasher always fails at once.
		if [[ $out == *"context deadline exceeded"* && $out != *"Failing input written"* ]]; then
			echo "== $pkg $name again (go.dev/issue/75804: the fuzz coordinator raced its deadline) (${FUZZRETRY:-3000x})"
			out=$(run "${FUZZRETRY:-3000x}") || { echo "$out"; echo "fuzz: $pkg $name failed (the crasher is in $pkg/testdata/fuzz/$name/)"; exit 1; }
		else
			echo "fuzz: $pkg $name failed (the crasher is in $pkg/testdata/fuzz/$name/)"; exit 1
		fi
	fi
	echo "$out"
	if [ "${FUZZ_SAVE:-}" = 1 ] && [ -d "$corpus/$name" ]; then
		mkdir -p "$pkg/testdata/fuzz/$name"
		cp -n "$corpus/$name"/* "$pkg/testdata/fuzz/$name/" 2>/dev/null || true
	fi
done
