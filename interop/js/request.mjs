// A small js-libp2p program that calls an application protocol of a Plexus
// node, the way a web or Node application would:
//
//   node --experimental-websocket --import ./polyfill.mjs dist/request.mjs <multiaddr/p2p/id> <protocol> <request text>
//
// It dials the node (TCP or WebSocket, Noise, Yamux), sends one request in
// Plexus's request/response framing (package messaging: uvarint length and
// payload, then half-close; the answer is a status byte, a uvarint length and
// the payload), prints {"status": n, "payload": "<base64>"} and exits. The
// interop suite runs it (build.mjs bundles it into dist/request.mjs).
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'

const [addr, protocol, text] = process.argv.slice(2)
if (addr == null || protocol == null || text == null) {
  console.error('usage: request.mjs <multiaddr/p2p/id> <protocol> <request text>')
  process.exit(2)
}

function uvarint (n) {
  const b = []
  while (n >= 0x80) { b.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  b.push(n)
  return Uint8Array.from(b)
}

const node = await createLibp2p({
  transports: [tcp(), webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})
try {
  const req = new TextEncoder().encode(text)
  const stream = await node.dialProtocol(multiaddr(addr), protocol, { signal: AbortSignal.timeout(10000) })
  const frame = new Uint8Array([...uvarint(req.length), ...req])
  if (!stream.send(frame)) await stream.onDrain()
  await stream.close()
  const parts = []
  for await (const chunk of stream) parts.push(...chunk.subarray())
  const resp = Uint8Array.from(parts)
  let n = 0; let mul = 1; let o = 1
  for (; o < resp.length; o++) {
    n += (resp[o] & 0x7f) * mul; mul *= 128
    if ((resp[o] & 0x80) === 0) { o++; break }
  }
  if (resp.length < 2 || o + n !== resp.length) throw new Error(`malformed response of ${resp.length} bytes`)
  console.log(JSON.stringify({ peer: node.peerId.toString(), status: resp[0], payload: Buffer.from(resp.subarray(o)).toString('base64') }))
} finally {
  await node.stop()
}
