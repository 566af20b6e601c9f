// Bundles the js programs with esbuild (pinned in package-lock.json):
//   dist/peer.mjs         peer.mjs for Node: one file loads much faster than
//                         hundreds of modules, which matters on a busy machine;
//   dist/request.mjs      request.mjs, the small request/response client;
//   dist/browser-peer.js  browser-peer.mjs for the page browser.mjs serves.
// The interop suite runs it once before its checks (go test ./interop).
import * as esbuild from 'esbuild'

const here = (p) => new URL(p, import.meta.url).pathname
const node = (name) => esbuild.build({
  entryPoints: [here(`./${name}`)],
  outfile: here(`./dist/${name}`),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // A native module (its binary comes in @chainsafe/libp2p-quic-linux-x64-gnu):
  // loaded from node_modules at run time.
  external: ['@chainsafe/libp2p-quic'],
  // Some dependencies require() Node built-ins; give the ESM bundle a require.
  banner: { js: "import { createRequire as __plexusCreateRequire } from 'node:module'; const require = __plexusCreateRequire(import.meta.url);" }
  })
await Promise.all([
  node('peer.mjs'),
  node('request.mjs'),
  esbuild.build({
    entryPoints: [here('./browser-peer.mjs')],
    outfile: here('./dist/browser-peer.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'chrome120',
    logLevel: 'warning',
    define: { global: 'globalThis' }
  })
])
