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
if [ "${PLEXUS_BENCH_FILES_ONLY:-}" != 1 ]; then
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
  PLEXUS_GOSSIP_VARIANTS=default,v0.19 go test -run '^$' -bench GossipLatency -benchtime 300x -timeout 10m ./pubsub
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
  echo "gossipsub on 100 nodes of degree ~8 against hops x one-hop latency (GossipPropagation, no link latency), and on the"
  echo "same network with 20-200 ms links (GossipLatency: the node's defaults, then go-libp2p-pubsub v0.19's for comparison;"
  echo "300 messages; dups/delivery = duplicate copies received per first delivery, mesh-degree = mean mesh peers, p50/p99 = nearest-rank percentiles of publish until all 99 others have it); DHT put/get and findpeer"
  echo "on $n in-process nodes (mocknet) with log2(N) as the hop reference; TCP tunnels (64 MiB uploads) against"
  echo "perf between the same two loopback hosts (tunnel/perf is the ratio), and an HTTP request through a tunnel"
  echo "against the same request sent directly (medians; added_µs is what the tunnel adds). Raw output:"
  echo
  echo '```'
  grep -E '^(Benchmark|goos|cpu|ok)' "$out"
  echo '```'
  echo
  # Issue 18's gossipsub goals, from the GossipLatency lines above.
  awk '
    /^BenchmarkGossipLatency\/(default|v0\.19)-/ {
      v = ($1 ~ /default/) ? "d" : "v"
      for (i = 3; i < NF; i++) { if ($(i+1) == "dups/delivery") dups[v] = $i; if ($(i+1) == "p99-ms") p99[v] = $i; if ($(i+1) == "p50-ms") p50[v] = $i; if ($(i+1) == "delivery-ratio") del[v] = $i }
    }
    END {
      if (p99["v"] == "" || p99["d"] == "") { print "Gossipsub goals: GossipLatency did not report both variants."; exit }
      r = p99["d"] / p99["v"]
      printf "Gossipsub goals (issue 18, GossipLatency, one run): duplicate copies per delivery %.2f (goal <= 3: %s); delivery %s (v0.19 %s); p99 time to all %.1f ms against v0.19 %.1f ms, ratio %.3f (goal <= 1.10: %s); p50 ratio %.3f.\n", \
        dups["d"], (dups["d"] <= 3 ? "met" : "not met"), del["d"], del["v"], p99["d"], p99["v"], r, (r <= 1.10 ? "met" : "not met"), p50["d"] / p50["v"]
    }' "$out"
} >> bench/report.md
echo "appended capability benchmarks to bench/report.md"
fi

# File sharing (issue 12): add against sha256 and the disk, get against a
# perf stream between the same two loopback nodes (on disk, and with the
# block stores in RAM), 4 providers against 1.
# Each benchmark in its own process (-count runs it again in the same one,
# after its own GC), so that RSS growth starts from its own baseline.
# PLEXUS_BENCH_FILES_BYTES=64MiB tries it fast; PLEXUS_BENCH_FILES_RUNS
# runs (median, min and max in the report); PLEXUS_BENCH_FILES_ONLY=1 runs
# only this part, against the report.json already in bench/.
if [ "${PLEXUS_BENCH_QUICK:-}" = 1 ]; then
  files_bytes=${PLEXUS_BENCH_FILES_BYTES:-64MiB}; files_runs=${PLEXUS_BENCH_FILES_RUNS:-1}
else
  files_bytes=${PLEXUS_BENCH_FILES_BYTES:-1GiB}; files_runs=${PLEXUS_BENCH_FILES_RUNS:-3}
fi
files_out="$bin/files.txt"
files_start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
  for b in FilesAdd FilesGet FilesGetRAM FilesProviders; do
    PLEXUS_BENCH_FILES_BYTES=$files_bytes go test -run '^$' -bench "^Benchmark$b\$" -benchtime 1x -count "$files_runs" -timeout 30m ./files
  done
} > "$files_out" 2>&1 || { cat "$files_out"; exit 1; }
if [ "${PLEXUS_BENCH_FILES_ONLY:-}" = 1 ]; then
  # replace the section of an earlier run (and the NAT lab note after it)
  sed -i '/^## File sharing (issue 12/,$d' bench/report.md
fi
{
  "$bin/benchreport" -out bench -files "$files_out" -files-bytes "$files_bytes"
  echo
  echo "This section ran at $files_start (UTC)."
  echo
  echo "add: a file read from disk, imported (256 KiB chunks, raw leaves) into the flatfs block store with the"
  echo "commit sync policy, against sha256 of the same bytes (the floor: add hashes every byte once) and the"
  echo "disk's write speed (writing the source file, with one fsync). get: a fetch between two nodes on loopback"
  echo "(TCP) through the DHT's provider record and the block protocol, against the perf protocol's single"
  echo "stream between the same nodes, measured just before (goal get/perf >= 0.5); FilesGetRAM and the machine"
  echo "and disk figures are described above the table. providers: the same fetch"
  echo "from 4 providers against from 1 (all nodes share this machine's cores). rss_growth_MiB: peak VmRSS"
  echo "growth during the operation (both nodes are in the one process; goal <= 64 MiB). Raw output:"
  echo
  echo '```'
  grep -E '^(Benchmark|    bench_test|goos|cpu|ok)' "$files_out"
  echo '```'
} >> bench/report.md
echo "appended file sharing benchmarks to bench/report.md and report.json"
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
