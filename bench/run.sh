#!/bin/sh
# Runs Plexus's benchmark suite and writes bench/report.md and bench/report.json,
# then the capability benchmarks (request/response, gossipsub propagation, DHT
# records and findpeer on 200 nodes), appended to bench/report.md.
# Sizes: PLEXUS_BENCH_QUICK=1 for a smoke run; see bench/config.go for the rest.
# Everything runs on loopback or in-process mocknet; every loop is bounded.
set -eu
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/benchreport" ./bench/cmd/benchreport
"$bin/benchreport" -out bench "$@"

if [ "${PLEXUS_BENCH_QUICK:-}" = 1 ]; then
  n=50; count=100; rounds=2
else
  n=200; count=400; rounds=8
fi
out="$bin/packages.txt"
{
  go test -run '^$' -bench 'RequestResponse|RawStreamEcho' -benchtime 2000x ./messaging
  go test -run '^$' -bench GossipPropagation -benchtime 300x -timeout 10m ./pubsub
  PLEXUS_BENCH_NODES=$n go test -run '^$' -bench PutGet -benchtime ${n}x -timeout 10m ./records
  go test -run '^$' -bench FindPeer200 -benchtime ${count}x -timeout 10m ./discovery
  go test -run '^$' -bench TunnelThroughput -benchtime ${rounds}x ./tunnel
  go test -run '^$' -bench TunnelLatency -benchtime ${count}x ./tunnel
} > "$out" 2>&1 || { cat "$out"; exit 1; }
{
  echo
  echo "## Capability benchmarks (go test -bench)"
  echo
  echo "Request/response against a raw libp2p stream echo between the same two loopback hosts;"
  echo "gossipsub on 100 nodes of degree ~8 against hops x one-hop latency; DHT put/get and findpeer"
  echo "on $n in-process nodes (mocknet) with log2(N) as the hop reference; TCP tunnels (64 MiB uploads) against"
  echo "perf between the same two loopback hosts (tunnel/perf is the ratio), and an HTTP request through a tunnel"
  echo "against the same request sent directly (medians; added_µs is what the tunnel adds). Raw output:"
  echo
  echo '```'
  grep -E '^(Benchmark|goos|cpu|ok)' "$out"
  echo '```'
} >> bench/report.md
echo "appended capability benchmarks to bench/report.md"
if [ -f bench/natlab.md ]; then
  {
    echo
    echo "## NAT lab"
    echo
    echo "Hole punching in network namespaces (success rate per transport and NAT combination, median"
    echo "relayed-to-direct time over 20 attempts each): see [natlab.md](natlab.md), regenerated as root with"
    echo "PLEXUS_NATLAB_FIGURES=bench/natlab.md go test ./natlab -run TestNATLabFigures -timeout 20m"
  } >> bench/report.md
fi
