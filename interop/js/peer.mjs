// A js-libp2p peer driven by Plexus's interop suite (go test ./interop).
//
//   node --experimental-websocket --import ./polyfill.mjs peer.mjs '<config JSON>'
//
// config: {"listen": [multiaddr...], "dht": bool, "amino": bool, "noSelfQuery": bool}.
// With "amino" the DHT speaks /ipfs/kad/1.0.0 (the Amino DHT) with
// kad-dht's own validators and selectors (pk only: js has no ipns one)
// instead of /plexus/kad/1.0.0 with the Plexus record validator.
// It prints one JSON line {"event":"ready","id","addrs","protocols"} once
// started, then reads commands from stdin, one JSON object a line,
// {"id": n, "cmd": "...", ...args}, and answers each with one line
// {"id": n, "ok": true, "result": {...}} or {"id": n, "ok": false, "error": "..."}.
// Messages on subscribed topics arrive as {"event":"message", ...} lines.
// It exits when stdin closes (the Go test ended) or on {"cmd":"stop"}.
import { createInterface } from 'node:readline'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { quic } from '@chainsafe/libp2p-quic'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub } from '@libp2p/gossipsub'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { CID } from 'multiformats/cid'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import * as rec from './plexus-record.mjs'

const config = JSON.parse(process.argv[2] ?? '{}')
const KAD_PROTOCOL = config.amino ? '/ipfs/kad/1.0.0' : '/plexus/kad/1.0.0'
const PERF_PROTOCOL = '/perf/1.0.0'
const AGENT = 'plexus-interop-js/1.0.0 js-libp2p'

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const b64 = (u8) => Buffer.from(u8.subarray ? u8.subarray() : u8).toString('base64')
const unb64 = (s) => new Uint8Array(Buffer.from(s ?? '', 'base64'))
const hex = (u8) => Buffer.from(u8).toString('hex')

const privateKey = await generateKeyPair('Ed25519')
const services = {
  identify: identify({ agentVersion: AGENT }),
  ping: ping(),
  pubsub: gossipsub({ emitSelf: false, allowPublishToZeroTopicPeers: false })
}
if (config.dht) {
  services.dht = kadDHT({
    protocol: KAD_PROTOCOL,
    clientMode: false,
    // Loopback addresses are all this suite has; the default mapper for a
    // private network would drop them.
    peerInfoMapper: passthroughMapper,
    ...(config.amino
      ? {}
      : {
          validators: { plexus: async (key, value) => { await rec.verify(new TextDecoder().decode(key), value) } },
          selectors: { plexus: (key, records) => rec.select(records) }
        }),
    allowQueryWithZeroPeers: true,
    // noSelfQuery: learn of other peers only through what the test does.
    ...(config.noSelfQuery ? { initialQuerySelfInterval: 3600000, querySelfInterval: 3600000 } : {})
  })
}

const node = await createLibp2p({
  privateKey,
  nodeInfo: { userAgent: AGENT },
  addresses: { listen: config.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp(), webSockets(), quic()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services
})

node.services.pubsub.addEventListener('message', (evt) => {
  const m = evt.detail
  out({
    event: 'message',
    topic: m.topic,
    type: m.type,
    from: m.from?.toString(),
    data: b64(m.data),
    seqno: m.sequenceNumber != null ? m.sequenceNumber.toString() : '',
    signature: m.signature != null ? b64(m.signature) : '',
    key: m.key != null ? b64(m.key.raw ?? m.key) : ''
  })
})

function target (args) {
  if (args.addr) return multiaddr(args.addr)
  return peerIdFromString(args.peer)
}

function connInfo (c) {
  return {
    peer: c.remotePeer.toString(),
    remoteAddr: c.remoteAddr.toString(),
    encryption: c.encryption,
    muxer: c.multiplexer,
    direction: c.direction
  }
}

// readAll returns every byte the remote sends until it closes its side.
async function readAll (stream, limit = 1 << 30) {
  const chunks = []
  let n = 0
  for await (const chunk of stream) {
    const u8 = chunk.subarray()
    n += u8.length
    if (n > limit) throw new Error(`more than ${limit} bytes`)
    chunks.push(u8)
  }
  const all = new Uint8Array(n)
  let o = 0
  for (const c of chunks) { all.set(c, o); o += c.length }
  return all
}

async function send (stream, data) {
  if (!stream.send(data)) await stream.onDrain()
}

function uvarint (n) {
  const b = []
  while (n >= 0x80) { b.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  b.push(n)
  return Uint8Array.from(b)
}

function readUvarint (u8, o) {
  let n = 0; let mul = 1
  for (let i = 0; i < 10 && o + i < u8.length; i++) {
    n += (u8[o + i] & 0x7f) * mul
    if ((u8[o + i] & 0x80) === 0) return [n, o + i + 1]
    mul *= 128
  }
  throw new Error('malformed uvarint')
}

// Protobuf, just the kad-dht Message fields used here (PUT_VALUE).
function pbField (num, bytes) {
  return [...uvarint((num << 3) | 2), ...uvarint(bytes.length), ...bytes]
}
function putValueMessage (key, value) {
  const recordPB = [...pbField(1, key), ...pbField(2, value)]
  return Uint8Array.from([0x08, 0x00, ...pbField(2, key), ...pbField(3, Uint8Array.from(recordPB))])
}

// perf (https://github.com/libp2p/specs/blob/master/perf/perf.md): the client
// sends the number of bytes it wants back (uint64 big-endian), then its upload,
// closes its side, and reads the download until the server closes.
const PERF_CHUNK = new Uint8Array(64 * 1024)
async function perfServe (stream) {
  const header = new Uint8Array(8)
  let got = 0
  for await (const chunk of stream) {
    const u8 = chunk.subarray()
    if (got < 8) {
      const take = Math.min(8 - got, u8.length)
      header.set(u8.subarray(0, take), got)
      got += take
    }
  }
  if (got < 8) { stream.abort(new Error('short perf header')); return }
  let left = Number(new DataView(header.buffer).getBigUint64(0))
  while (left > 0) {
    const n = Math.min(left, PERF_CHUNK.length)
    await send(stream, PERF_CHUNK.subarray(0, n))
    left -= n
  }
  await stream.close()
}

async function perfClient (peer, upload, download) {
  const stream = await node.dialProtocol(peer, PERF_PROTOCOL)
  const start = performance.now()
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, BigInt(download))
  await send(stream, header)
  let left = upload
  while (left > 0) {
    const n = Math.min(left, PERF_CHUNK.length)
    await send(stream, PERF_CHUNK.subarray(0, n))
    left -= n
  }
  await stream.close()
  const uploaded = performance.now()
  let received = 0
  for await (const chunk of stream) received += chunk.byteLength
  const done = performance.now()
  return { received, uploadMs: uploaded - start, downloadMs: done - uploaded, totalMs: done - start }
}

// Plexus request/response framing (package messaging, doc.go): request =
// uvarint(n) payload; response = status byte, uvarint(n), payload.
async function request (peer, protocol, data) {
  const stream = await node.dialProtocol(peer, protocol)
  await send(stream, Uint8Array.from([...uvarint(data.length), ...data]))
  await stream.close()
  const resp = await readAll(stream, 1 << 21)
  if (resp.length < 2) throw new Error(`response of ${resp.length} bytes`)
  const [n, o] = readUvarint(resp, 1)
  if (o + n !== resp.length) throw new Error(`response frame says ${n} bytes, has ${resp.length - o}`)
  return { status: resp[0], payload: b64(resp.subarray(o)) }
}

async function serveRequest (stream, connection) {
  const req = await readAll(stream, 1 << 21)
  const [n, o] = readUvarint(req, 0)
  let status = 0
  let payload
  if (o + n !== req.length) {
    status = 5
    payload = new TextEncoder().encode('bad request frame')
  } else {
    const prefix = new TextEncoder().encode(`js ${node.peerId} answers ${connection.remotePeer}: `)
    payload = Uint8Array.from([...prefix, ...req.subarray(o)])
  }
  await send(stream, Uint8Array.from([status, ...uvarint(payload.length), ...payload]))
  await stream.close()
}

await node.handle(PERF_PROTOCOL, (stream) => perfServe(stream).catch((err) => stream.abort(err)))

const commands = {
  async info () {
    return { id: node.peerId.toString(), addrs: node.getMultiaddrs().map(String), protocols: node.getProtocols() }
  },
  async dial (a) {
    const c = await node.dial(target(a))
    return connInfo(c)
  },
  async connections (a) {
    return { connections: node.getConnections(a.peer ? peerIdFromString(a.peer) : undefined).map(connInfo) }
  },
  async hangUp (a) {
    await node.hangUp(peerIdFromString(a.peer))
    return {}
  },
  async ping (a) {
    const rtt = await node.services.ping.ping(target(a))
    return { rttMs: rtt }
  },
  async peerInfo (a) {
    const p = await node.peerStore.get(peerIdFromString(a.peer))
    const agent = p.metadata.get('AgentVersion')
    return { agent: agent ? new TextDecoder().decode(agent) : '', protocols: p.protocols, addrs: p.addresses.map((x) => x.multiaddr.toString()) }
  },
  async subscribe (a) {
    node.services.pubsub.subscribe(a.topic)
    return {}
  },
  async topicPeers (a) {
    return {
      subscribers: node.services.pubsub.getSubscribers(a.topic).map(String),
      mesh: node.services.pubsub.getMeshPeers(a.topic).map(String)
    }
  },
  async publish (a) {
    const r = await node.services.pubsub.publish(a.topic, unb64(a.data))
    return { recipients: r.recipients.map(String) }
  },
  async dhtSize () {
    return { size: node.services.dht.routingTable.size }
  },
  async dhtGet (a) {
    const key = new TextEncoder().encode(a.key)
    const values = []
    for await (const ev of node.services.dht.get(key, { signal: AbortSignal.timeout(a.timeoutMs ?? 10000) })) {
      if (ev.name === 'VALUE') values.push({ from: ev.from.toString(), value: ev.value })
    }
    if (values.length === 0) throw new Error(`no value for ${a.key}`)
    const best = values[rec.select(values.map((v) => v.value))]
    const r = await rec.verify(a.key, best.value)
    return {
      from: best.from,
      bytes: b64(best.value),
      record: { key: r.key, value: b64(r.value), seq: r.seq.toString(), eolNanos: r.eolNanos.toString(), publicKey: b64(r.publicKey), signature: b64(r.signature) }
    }
  },
  // makeRecord builds a record with this peer's key. kind: "valid" (under
  // /plexus/<this peer>/<name>), "unsigned" (no signature), "forged" (under
  // /plexus/<a.owner>/<name> but signed by this peer), "tampered" (valid,
  // then one value byte changed).
  async makeRecord (a) {
    const owner = a.kind === 'forged' ? a.owner : node.peerId.toString()
    const key = `/plexus/${owner}/${a.name}`
    const eolNanos = BigInt(Date.now() + 3600 * 1000) * 1000000n
    const value = unb64(a.value)
    const sign = a.kind === 'unsigned' ? null : (data) => privateKey.sign(data)
    const bytes = await rec.encode({ key, value, seq: 1, eolNanos }, sign)
    if (a.kind === 'tampered') {
      const r = rec.decode(bytes)
      const at = bytes.length - 2 - r.signature.length - 18 - 1 // last value byte
      bytes[at] ^= 0xff
    }
    return { key, bytes: b64(bytes) }
  },
  // rawPut sends one kad-dht PUT_VALUE to peer over a fresh stream and
  // reports whether the peer echoed it (accepted) or reset the stream.
  async rawPut (a) {
    const stream = await node.dialProtocol(peerIdFromString(a.peer), KAD_PROTOCOL)
    const lp = lpStream(stream)
    const msg = putValueMessage(new TextEncoder().encode(a.key), unb64(a.bytes))
    await lp.write(msg)
    try {
      const resp = await lp.read({ signal: AbortSignal.timeout(5000) })
      await stream.close().catch(() => {})
      return { accepted: true, responseBytes: resp.byteLength }
    } catch (err) {
      stream.abort(err)
      return { accepted: false, error: String(err.message ?? err) }
    }
  },
  async findPeer (a) {
    const id = peerIdFromString(a.peer)
    const queried = new Set()
    for await (const ev of node.services.dht.findPeer(id, { signal: AbortSignal.timeout(a.timeoutMs ?? 10000) })) {
      if (ev.name === 'PEER_RESPONSE') queried.add(ev.from.toString())
      if (ev.name === 'FINAL_PEER' && ev.peer.id.equals(id)) {
        return { from: ev.from.toString(), queried: [...queried], addrs: ev.peer.multiaddrs.map(String) }
      }
    }
    throw new Error(`peer ${a.peer} not found (queried ${[...queried].join(', ') || 'nobody'})`)
  },
  // pkRecord answers this peer's public key record: key /pk/<multihash of
  // the peer ID>, value the protobuf public key.
  async pkRecord () {
    const key = Uint8Array.from([...new TextEncoder().encode('/pk/'), ...node.peerId.toMultihash().bytes])
    return { key: b64(key), value: b64(publicKeyToProtobuf(privateKey.publicKey)) }
  },
  // dhtPut stores key (base64) = value (base64) here and sends PUT_VALUE to
  // the closest peers; it answers the peers that stored it and the errors.
  async dhtPut (a) {
    const stored = []; const errors = []
    for await (const ev of node.services.dht.put(unb64(a.key), unb64(a.value), { signal: AbortSignal.timeout(a.timeoutMs ?? 10000) })) {
      if (ev.name === 'PEER_RESPONSE' && ev.messageType === 'PUT_VALUE') stored.push(ev.from.toString())
      if (ev.name === 'QUERY_ERROR') errors.push(`${ev.from}: ${ev.error?.message ?? ev.error}`)
    }
    return { stored, errors }
  },
  // dhtGetRaw looks key (base64) up and answers every value found, with
  // the peer that sent it (this peer's own for a value stored here).
  async dhtGetRaw (a) {
    const values = []
    for await (const ev of node.services.dht.get(unb64(a.key), { signal: AbortSignal.timeout(a.timeoutMs ?? 10000) })) {
      if (ev.name === 'VALUE') values.push({ from: ev.from.toString(), value: b64(ev.value) })
    }
    return { values }
  },
  // provide announces this peer as a provider of a.cid; it answers the
  // peers it sent ADD_PROVIDER to.
  async provide (a) {
    const sent = []
    for await (const ev of node.services.dht.provide(CID.parse(a.cid), { signal: AbortSignal.timeout(a.timeoutMs ?? 10000) })) {
      if (ev.name === 'PEER_RESPONSE' && ev.messageType === 'ADD_PROVIDER') sent.push(ev.from.toString())
    }
    return { sent }
  },
  // findProviders looks for providers of a.cid until a.peer is among them.
  async findProviders (a) {
    const seen = []
    for await (const ev of node.services.dht.findProviders(CID.parse(a.cid), { signal: AbortSignal.timeout(a.timeoutMs ?? 10000) })) {
      if (ev.name !== 'PROVIDER') continue
      for (const p of ev.providers) {
        seen.push(p.id.toString())
        if (p.id.toString() === a.peer) return { from: ev.from.toString(), addrs: p.multiaddrs.map(String) }
      }
    }
    throw new Error(`provider ${a.peer} of ${a.cid} not found (found ${seen.join(', ') || 'none'})`)
  },
  async perf (a) {
    return perfClient(target(a), a.upload, a.download)
  },
  async request (a) {
    return request(target(a), a.protocol, unb64(a.data))
  },
  async handle (a) {
    await node.handle(a.protocol, (stream, connection) => serveRequest(stream, connection).catch((err) => stream.abort(err)))
    return {}
  },
  async stop () {
    await node.stop()
    setImmediate(() => process.exit(0))
    return {}
  }
}

out({ event: 'ready', id: node.peerId.toString(), addrs: node.getMultiaddrs().map(String), protocols: node.getProtocols() })

const rl = createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  let msg
  try { msg = JSON.parse(line) } catch { out({ event: 'error', error: `not JSON: ${line}` }); return }
  const fn = commands[msg.cmd]
  if (fn == null) { out({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` }); return }
  try {
    out({ id: msg.id, ok: true, result: await fn(msg) })
  } catch (err) {
    out({ id: msg.id, ok: false, error: String(err?.stack ?? err) })
  }
})
rl.on('close', () => { node.stop().finally(() => process.exit(0)) })
