#!/usr/bin/env bash
# Installs what Plexus's tests use:
# - Debian packages: iproute2 (network namespaces and veth pairs for the mDNS
#   and NAT lab tests), nftables (the NAT lab's routers), iptables (its
#   NFQUEUE latency: iptables-legacy), prometheus (a real
#   Prometheus scraping a daemon in the metrics test), chromium (the
#   dashboard's browser test, driven headless by chromedp, and js-libp2p in a
#   headless browser in the interop suite), and Node.js and npm for the
#   interop suite (make interop);
# - the interop suite's npm packages, exactly as interop/js/package-lock.json
#   pins them (npm ci, from npm's cache when it has them; skipped when
#   node_modules already matches the lock file).
# Does nothing that is already done. Installing needs root or password-less
# sudo; without either it says what to run and carries on.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v iptables-legacy >/dev/null 2>&1 || need+=(iptables)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  # As root (CI: .ci/run on a fresh Debian machine) apt-get runs directly;
  # otherwise through sudo when it needs no password, never asking for one.
  as_root=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      echo "install-deps: not root and no password-less sudo, so cannot install: ${need[*]}" >&2
      echo "install-deps: run as root: apt-get install -y --no-install-recommends ${need[*]}   (or: sudo make deps)" >&2
      echo "install-deps: until then the tests that need them fail saying so (the dashboard's browser test, the Prometheus test, the interop suite) or skip (the network-namespace tests, which need root anyway)" >&2
      need=()
    fi
  fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "install-deps: installing ${need[*]}${as_root:+ (with sudo)}"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

# The interop suite's js-libp2p packages.
js=interop/js
if command -v npm >/dev/null 2>&1 && [ -f "$js/package-lock.json" ]; then
  stamp="$js/node_modules/.plexus-lock.sha256"
  sum=$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    echo "install-deps: npm ci in $js"
    # esbuild's install script only checks its binary (which comes in the
    # @esbuild/linux-x64 package); no other package runs one.
    (cd "$js" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
    echo "$sum" > "$stamp"
  fi
fi
