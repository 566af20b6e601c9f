// Plexus records (package records, wire.go) implemented from the documented
// wire format only: decode, verify, encode and sign. Shared by the Node peer
// (peer.mjs) as the kad-dht validator and selector of the "plexus" namespace.
import { peerIdFromString, peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'

const MAGIC = [0x50, 0x58, 0x52, 0x01] // "PXR" and version 1
export const SIGNATURE_PREFIX = new TextEncoder().encode('plexus-record:')
const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

export class RecordError extends Error {}

// decode parses bytes into {key, value, seq, eolNanos, publicKey, signature,
// signed} without verifying anything but the layout.
export function decode (bytes) {
  const b = bytes instanceof Uint8Array ? bytes : bytes.subarray()
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let o = 0
  const need = (n, what) => { if (o + n > b.length) throw new RecordError(`record truncated in ${what}`) }
  need(4, 'magic')
  for (let i = 0; i < 4; i++) if (b[i] !== MAGIC[i]) throw new RecordError('bad magic')
  o = 4
  need(2, 'key length'); const K = dv.getUint16(o); o += 2
  if (K === 0 || K > 1024) throw new RecordError(`key length ${K}`)
  need(K, 'key'); const key = dec.decode(b.subarray(o, o + K)); o += K
  need(4, 'value length'); const V = dv.getUint32(o); o += 4
  need(V, 'value'); const value = b.slice(o, o + V); o += V
  need(8, 'seq'); const seq = dv.getBigUint64(o); o += 8
  need(8, 'eol'); const eolNanos = dv.getBigInt64(o); o += 8
  need(2, 'public key length'); const P = dv.getUint16(o); o += 2
  need(P, 'public key'); const publicKey = b.slice(o, o + P); o += P
  const signedEnd = o
  need(2, 'signature length'); const S = dv.getUint16(o); o += 2
  if (S === 0) throw new RecordError('unsigned record (signature length 0)')
  need(S, 'signature'); const signature = b.slice(o, o + S); o += S
  if (o !== b.length) throw new RecordError(`${b.length - o} bytes after the signature`)
  return { key, value, seq, eolNanos, publicKey, signature, signed: b.subarray(0, signedEnd) }
}

function concat (...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

// verify checks that bytes is a valid Plexus record stored under key (a
// string): layout, key match, owner, signature and EOL. It returns the
// decoded record.
export async function verify (key, bytes, now = Date.now()) {
  const r = decode(bytes)
  if (r.key !== key) throw new RecordError(`record for ${r.key} stored under ${key}`)
  const parts = key.split('/')
  if (parts.length !== 4 || parts[0] !== '' || parts[1] !== 'plexus' || parts[3] === '') throw new RecordError(`key ${key} is not /plexus/<peerID>/<name>`)
  const owner = peerIdFromString(parts[2])
  let pub
  if (r.publicKey.length > 0) {
    pub = publicKeyFromProtobuf(r.publicKey)
    if (!peerIdFromPublicKey(pub).equals(owner)) throw new RecordError('embedded key is not the owner\'s')
  } else {
    pub = owner.publicKey
    if (pub == null) throw new RecordError(`no public key for ${owner}`)
  }
  const ok = await pub.verify(concat(SIGNATURE_PREFIX, r.signed), r.signature)
  if (!ok) throw new RecordError('bad signature')
  if (BigInt(now) * 1000000n > r.eolNanos) throw new RecordError('record expired')
  return r
}

// encode builds a record's bytes; sign (a function of the signed bytes, or
// null for an unsigned record) makes the signature.
export async function encode ({ key, value, seq, eolNanos, publicKey = new Uint8Array(0) }, sign) {
  const k = enc.encode(key)
  const head = new Uint8Array(4 + 2 + k.length + 4)
  const dv = new DataView(head.buffer)
  head.set(MAGIC, 0); dv.setUint16(4, k.length); head.set(k, 6); dv.setUint32(6 + k.length, value.length)
  const tail = new Uint8Array(8 + 8 + 2)
  const tv = new DataView(tail.buffer)
  tv.setBigUint64(0, BigInt(seq)); tv.setBigInt64(8, BigInt(eolNanos)); tv.setUint16(16, publicKey.length)
  const body = concat(head, value, tail, publicKey)
  const sig = sign == null ? new Uint8Array(0) : await sign(concat(SIGNATURE_PREFIX, body))
  const sl = new Uint8Array(2)
  new DataView(sl.buffer).setUint16(0, sig.length)
  return concat(body, sl, sig)
}

// select picks the record Plexus picks: highest seq, then later EOL, then the
// greatest encoding.
export function select (records) {
  let best = -1; let bestR = null
  records.forEach((bytes, i) => {
    let r
    try { r = decode(bytes) } catch { return }
    if (bestR == null || r.seq > bestR.seq || (r.seq === bestR.seq && (r.eolNanos > bestR.eolNanos ||
      (r.eolNanos === bestR.eolNanos && compare(bytes, records[best]) > 0)))) {
      best = i; bestR = r
    }
  })
  return best < 0 ? 0 : best
}

function compare (a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}
