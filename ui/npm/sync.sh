#!/usr/bin/env bash
# Vendors the dashboard's third-party browser libraries: installs the exact
# versions of package-lock.json with npm, copies their built files (and
# licences) into ../assets/vendor and writes ../assets/vendor/SOURCES, one
# line per file: "<package>@<version> <path in the package> <sha256>".
# The Go test TestVendoredAssets checks the copies against SOURCES and
# package-lock.json (and against node_modules when it is there), so the
# committed files are the packages' own. Node.js is needed only here, never
# to build or run plexus.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
out=../assets/vendor
rm -rf "$out"
mkdir -p "$out"
files=(
  "uplot dist/uPlot.iife.min.js"
  "uplot dist/uPlot.min.css"
  "uplot LICENSE"
  "cytoscape dist/cytoscape.min.js"
  "cytoscape LICENSE"
)
: >"$out/SOURCES"
for f in "${files[@]}"; do
  pkg=${f%% *}
  path=${f#* }
  version=$(node -p "require('./node_modules/$pkg/package.json').version")
  dest="$pkg-$(basename "$path")"
  cp "node_modules/$pkg/$path" "$out/$dest"
  sum=$(sha256sum "$out/$dest" | cut -d' ' -f1)
  echo "$dest $pkg@$version $path $sum" >>"$out/SOURCES"
done
cat "$out/SOURCES"
