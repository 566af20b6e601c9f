// Runs browser-peer.mjs in headless Chromium and speaks the suite's protocol
// (see peer.mjs) on stdin/stdout, relaying each command to the page.
//
//   node browser.mjs [chromium path]
//
// It serves the bundle of browser-peer.mjs (dist/browser-peer.js, made by
// build.mjs) and a page on
// 127.0.0.1 (a secure context, as WebTransport requires), starts Chromium with
// a fresh profile through playwright-core (no browser download: Debian's
// chromium), and prints {"event":"ready",...} once the js-libp2p node in the
// page has started. It exits when stdin closes.
import { createInterface } from 'node:readline'
import { createServer } from 'node:http'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

const executablePath = process.argv[2] ?? '/usr/bin/chromium'
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const log = (...a) => process.stderr.write(a.join(' ') + '\n')

// Built by build.mjs (the suite runs it first).
const bundle = await readFile(new URL('./dist/browser-peer.js', import.meta.url))
const page = '<!doctype html><meta charset="utf-8"><title>plexus interop</title><script type="module" src="/peer.js"></script>'

const server = createServer((req, res) => {
  if (req.url === '/peer.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(bundle)
  } else if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }); res.end(page)
  } else {
    res.writeHead(204); res.end() // favicon.ico and the like

  }
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = `http://127.0.0.1:${server.address().port}/`

const userDataDir = await mkdtemp(join(tmpdir(), 'plexus-interop-chromium-'))
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--allow-loopback-in-peer-connection'
  ]
})
let closing = false
async function shutdown (code) {
  if (closing) return
  closing = true
  await context.close().catch(() => {})
  server.close()
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {})
  process.exit(code)
}

try {
  const p = context.pages()[0] ?? await context.newPage()
  p.on('console', (m) => log(`[page ${m.type()}] ${m.text()}`))
  p.on('pageerror', (e) => log(`[page error] ${e.stack ?? e}`))
  await p.exposeFunction('interopEmit', (obj) => out(obj))
  await p.goto(url)
  await p.waitForFunction(() => window.interopReady === true, null, { timeout: 30000 })
  const info = await p.evaluate(() => ({ id: window.interop.id, protocols: window.interop.protocols }))
  out({ event: 'ready', id: info.id, addrs: [], protocols: info.protocols, browser: context.browser()?.version() ?? '' })

  const rl = createInterface({ input: process.stdin })
  rl.on('line', async (line) => {
    let msg
    try { msg = JSON.parse(line) } catch { log(`not JSON: ${line}`); return }
    try {
      out(await p.evaluate((m) => window.interop.run(m), msg))
    } catch (err) {
      out({ id: msg.id, ok: false, error: String(err?.stack ?? err) })
    }
  })
  rl.on('close', () => { shutdown(0) })
} catch (err) {
  log(String(err?.stack ?? err))
  await shutdown(1)
}
