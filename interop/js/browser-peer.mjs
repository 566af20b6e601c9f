// The js-libp2p node that runs inside headless Chromium. esbuild bundles this
// file (browser.mjs does it at start); the page exposes window.interop.run,
// which browser.mjs calls with the suite's commands (the same protocol as
// peer.mjs). Transports: WebRTC-direct and WebTransport, the two that let a
// web page reach a node without a certificate authority.
import { createLibp2p } from 'libp2p'
import { webRTCDirect } from '@libp2p/webrtc'
import { webTransport } from '@libp2p/webtransport'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'

const AGENT = 'plexus-interop-js/1.0.0 js-libp2p (browser)'
const b64 = (u8) => { let s = ''; for (const c of u8.subarray ? u8.subarray() : u8) s += String.fromCharCode(c); return btoa(s) }
const unb64 = (s) => Uint8Array.from(atob(s ?? ''), (c) => c.charCodeAt(0))

const node = await createLibp2p({
  addresses: { listen: [] },
  nodeInfo: { userAgent: AGENT },
  transports: [webRTCDirect(), webTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  // The browser default refuses private addresses; this suite has only loopback.
  connectionGater: { denyDialMultiaddr: () => false },
  services: {
    identify: identify({ agentVersion: AGENT }),
    ping: ping(),
    pubsub: gossipsub({ emitSelf: false })
  }
})

node.services.pubsub.addEventListener('message', (evt) => {
  const m = evt.detail
  window.interopEmit({
    event: 'message',
    topic: m.topic,
    type: m.type,
    from: m.from?.toString(),
    data: b64(m.data),
    seqno: m.sequenceNumber != null ? m.sequenceNumber.toString() : '',
    signature: m.signature != null ? b64(m.signature) : '',
    key: ''
  })
})

const target = (a) => a.addr ? multiaddr(a.addr) : peerIdFromString(a.peer)
const connInfo = (c) => ({ peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString(), encryption: c.encryption, muxer: c.multiplexer, direction: c.direction })

const commands = {
  async info () { return { id: node.peerId.toString(), addrs: [], protocols: node.getProtocols(), userAgent: navigator.userAgent } },
  async dial (a) { return connInfo(await node.dial(target(a), { signal: AbortSignal.timeout(20000) })) },
  async connections (a) { return { connections: node.getConnections(a.peer ? peerIdFromString(a.peer) : undefined).map(connInfo) } },
  async hangUp (a) { await node.hangUp(peerIdFromString(a.peer)); return {} },
  async ping (a) { return { rttMs: await node.services.ping.ping(target(a)) } },
  async peerInfo (a) {
    const p = await node.peerStore.get(peerIdFromString(a.peer))
    const agent = p.metadata.get('AgentVersion')
    return { agent: agent ? new TextDecoder().decode(agent) : '', protocols: p.protocols }
  },
  async subscribe (a) { node.services.pubsub.subscribe(a.topic); return {} },
  async topicPeers (a) {
    return { subscribers: node.services.pubsub.getSubscribers(a.topic).map(String), mesh: node.services.pubsub.getMeshPeers(a.topic).map(String) }
  },
  async publish (a) {
    const r = await node.services.pubsub.publish(a.topic, unb64(a.data))
    return { recipients: r.recipients.map(String) }
  }
}

window.interop = {
  id: node.peerId.toString(),
  protocols: node.getProtocols(),
  async run (msg) {
    const fn = commands[msg.cmd]
    if (fn == null) return { id: msg.id, ok: false, error: `unknown command ${msg.cmd}` }
    try {
      return { id: msg.id, ok: true, result: await fn(msg) }
    } catch (err) {
      return { id: msg.id, ok: false, error: String(err?.stack ?? err) }
    }
  }
}
window.interopReady = true
