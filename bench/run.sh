#!/bin/sh
# Runs Plexus's benchmark suite and writes bench/report.md and bench/report.json.
# Sizes: PLEXUS_BENCH_QUICK=1 for a smoke run; see bench/config.go for the rest.
set -eu
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/benchreport" ./bench/cmd/benchreport
"$bin/benchreport" -out bench "$@"
