#!/usr/bin/env bash
# Installs the Debian packages Plexus's tests use: iproute2 (network
# namespaces and veth pairs for the mDNS and NAT lab tests) and nftables
# (the NAT lab's routers) and prometheus (a real Prometheus scraping a daemon
# in the metrics test). Does nothing when they are already there.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: not root, cannot install ${need[*]}; the tests that need them will skip" >&2
  exit 0
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
