// js-libp2p 3 targets Node 22; this machine (and CI) has Node 20. The one
// missing API it uses is Promise.withResolvers (Node 22). WebSocket, the
// other, is enabled by node's --experimental-websocket flag (see peer.mjs).
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
