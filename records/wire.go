package records

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Wire format of a Plexus record (the value stored in the DHT under its key).
//
// The encoding is protobuf-free and canonical: every field has a fixed-width
// big-endian length or value, fields appear in one order, and nothing may
// follow the signature, so a byte string decodes to at most one record and
// re-encodes to the same bytes.
//
//	offset  size    field
//	0       4       magic "PXR" followed by the format version byte 0x01
//	4       2       key length K (uint16, 1..MaxKeySize)
//	6       K       key, "/plexus/<peerID>/<name>"
//	6+K     4       value length V (uint32, 0..max value size)
//	10+K    V       value
//	10+K+V  8       seq (uint64)
//	18+K+V  8       eol, Unix time in nanoseconds (int64, UTC)
//	26+K+V  2       public key length P (uint16; 0 = no embedded key)
//	28+K+V  P       public key, libp2p crypto.MarshalPublicKey bytes
//	28+K+V+P 2      signature length S (uint16, 1..MaxSignatureSize)
//	30+K+V+P S      signature
//
// The signature is made with the owner's libp2p private key over
//
//	SignaturePrefix || encoding[0 : 28+K+V+P]
//
// that is, the domain-separation prefix followed by every byte before the
// signature length (magic, key, value, seq, eol and public key). Because the key
// is signed, a record copied under another key fails verification, and because
// of the prefix a Plexus record signature cannot be replayed as any other
// libp2p signature.
//
// The public key is embedded only when it cannot be extracted from the owner's
// peer ID (Ed25519 and secp256k1 peer IDs inline their key; RSA and ECDSA ones
// do not).

// SignaturePrefix is the domain-separation string prepended to the signed bytes.
const SignaturePrefix = "plexus-record:"

// wireMagic starts every encoded record: "PXR" and format version 1.
var wireMagic = [4]byte{'P', 'X', 'R', 0x01}

const (
	// MaxKeySize bounds the length of a record key in bytes.
	MaxKeySize = 1024
	// MaxPublicKeySize bounds the embedded public key in bytes (an RSA-8192 key
	// marshals to a little over 1 KiB).
	MaxPublicKeySize = 2048
	// MaxSignatureSize bounds the signature in bytes (RSA-8192 signs 1 KiB).
	MaxSignatureSize = 2048
)

// Record is a signed Plexus key/value record. Get also returns a record of
// another namespace the DHT validates (/pk/, /ipns/) as a Record with only
// Key, Owner and Value set: see Service.Get.
type Record struct {
	// Key is the DHT key, "/plexus/<owner>/<name>".
	Key string
	// Owner is the peer whose key signed the record; it is part of Key.
	Owner peer.ID
	// Name is the last segment of Key.
	Name string
	// Value is the application data.
	Value []byte
	// Seq orders the owner's versions of the record: the highest wins.
	Seq uint64
	// EOL is when the record stops being valid.
	EOL time.Time
	// PublicKey is the embedded marshalled public key, or nil when the key is
	// extracted from Owner.
	PublicKey []byte
	// Signature is the owner's signature (see the wire format in wire.go).
	Signature []byte
}

// Namespace returns the namespace of r's key: "plexus" for a Plexus record,
// or the namespace of a record Get fetched from another one ("pk", "ipns").
func (r Record) Namespace() string {
	ns, _, _ := record.SplitKey(r.Key)
	return ns
}

// NewRecord returns a record under /plexus/<peer ID of priv>/<name> signed with
// priv. The public key is embedded when the peer ID does not inline it.
func NewRecord(priv crypto.PrivKey, name string, value []byte, seq uint64, eol time.Time) (Record, error) {
	owner, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return Record{}, fmt.Errorf("records: peer ID of signing key: %w", err)
	}
	if err := ValidateName(name); err != nil {
		return Record{}, err
	}
	r := Record{
		Key:   Key(owner, name),
		Owner: owner,
		Name:  name,
		Value: bytes.Clone(value),
		Seq:   seq,
		EOL:   time.Unix(0, eol.UnixNano()).UTC(),
	}
	if _, err := owner.ExtractPublicKey(); err != nil {
		pk, err := crypto.MarshalPublicKey(priv.GetPublic())
		if err != nil {
			return Record{}, fmt.Errorf("records: marshal public key of %s: %w", owner, err)
		}
		r.PublicKey = pk
	}
	body, err := r.body()
	if err != nil {
		return Record{}, err
	}
	sig, err := priv.Sign(signedBytes(body))
	if err != nil {
		return Record{}, fmt.Errorf("records: sign %q: %w", r.Key, err)
	}
	r.Signature = sig
	return r, nil
}

// Marshal encodes r in the wire format described in wire.go.
func (r Record) Marshal() ([]byte, error) {
	body, err := r.body()
	if err != nil {
		return nil, err
	}
	if len(r.Signature) == 0 || len(r.Signature) > MaxSignatureSize {
		return nil, fmt.Errorf("%w: %q: signature of %d bytes", ErrInvalidRecord, r.Key, len(r.Signature))
	}
	out := make([]byte, 0, len(body)+2+len(r.Signature))
	out = append(out, body...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(r.Signature)))
	return append(out, r.Signature...), nil
}

// body encodes every field the signature covers.
func (r Record) body() ([]byte, error) {
	if len(r.Key) == 0 || len(r.Key) > MaxKeySize {
		return nil, fmt.Errorf("%w: key of %d bytes", ErrInvalidKey, len(r.Key))
	}
	if uint64(len(r.Value)) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: %q: %d bytes", ErrValueTooLarge, r.Key, len(r.Value))
	}
	if len(r.PublicKey) > MaxPublicKeySize {
		return nil, fmt.Errorf("%w: %q: public key of %d bytes", ErrInvalidRecord, r.Key, len(r.PublicKey))
	}
	b := make([]byte, 0, 30+len(r.Key)+len(r.Value)+len(r.PublicKey))
	b = append(b, wireMagic[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Key)))
	b = append(b, r.Key...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Value)))
	b = append(b, r.Value...)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.EOL.UnixNano()))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.PublicKey)))
	return append(b, r.PublicKey...), nil
}

func signedBytes(body []byte) []byte {
	return append([]byte(SignaturePrefix), body...)
}

// Unmarshal decodes a record from the wire format. It checks the encoding and
// the key's shape (so Owner and Name are set) but not the signature or the
// expiry: use RecordValidator.Validate for that.
func Unmarshal(data []byte) (Record, error) {
	d := decoder{buf: data}
	if magic := d.next(4); magic == nil || !bytes.Equal(magic, wireMagic[:]) {
		return Record{}, fmt.Errorf("%w: not a plexus record (bad magic or version, %d bytes)", ErrInvalidRecord, len(data))
	}
	key := d.next(int(d.uint16()))
	value := d.next(int(d.uint32()))
	seq := d.uint64()
	eol := int64(d.uint64())
	pub := d.next(int(d.uint16()))
	sigLen := d.uint16()
	sig := d.next(int(sigLen))
	if d.short {
		return Record{}, fmt.Errorf("%w: truncated (%d bytes)", ErrInvalidRecord, len(data))
	}
	if len(d.buf) != 0 {
		return Record{}, fmt.Errorf("%w: %d trailing bytes", ErrInvalidRecord, len(d.buf))
	}
	if len(key) == 0 || len(key) > MaxKeySize {
		return Record{}, fmt.Errorf("%w: key of %d bytes", ErrInvalidRecord, len(key))
	}
	if sigLen == 0 || sigLen > MaxSignatureSize {
		return Record{}, fmt.Errorf("%w: %q: signature of %d bytes", ErrInvalidRecord, key, sigLen)
	}
	if len(pub) > MaxPublicKeySize {
		return Record{}, fmt.Errorf("%w: %q: public key of %d bytes", ErrInvalidRecord, key, len(pub))
	}
	owner, name, err := ParseKey(string(key))
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	r := Record{
		Key:       string(key),
		Owner:     owner,
		Name:      name,
		Value:     bytes.Clone(value),
		Seq:       seq,
		EOL:       time.Unix(0, eol).UTC(),
		Signature: bytes.Clone(sig),
	}
	if len(pub) > 0 {
		r.PublicKey = bytes.Clone(pub)
	}
	if r.Value == nil {
		r.Value = []byte{}
	}
	return r, nil
}

// decoder reads fixed-width big-endian fields; after a short read every
// further read returns zero values and short is set.
type decoder struct {
	buf   []byte
	short bool
}

func (d *decoder) next(n int) []byte {
	if d.short || n > len(d.buf) {
		d.short = true
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) uint16() uint16 {
	if b := d.next(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	if b := d.next(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) uint64() uint64 {
	if b := d.next(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// verifySignature checks r.Signature against the owner's public key: the
// embedded one, which must hash to the owner's peer ID, or the one inlined in
// the peer ID.
func (r Record) verifySignature() error {
	var pub crypto.PubKey
	if len(r.PublicKey) > 0 {
		pk, err := crypto.UnmarshalPublicKey(r.PublicKey)
		if err != nil {
			return fmt.Errorf("%w: %q: embedded public key: %w", ErrInvalidRecord, r.Key, err)
		}
		if !r.Owner.MatchesPublicKey(pk) {
			id, _ := peer.IDFromPublicKey(pk)
			return fmt.Errorf("%w: %q is owned by %s but the record's key belongs to %s", ErrNotOwner, r.Key, r.Owner, id)
		}
		pub = pk
	} else {
		pk, err := r.Owner.ExtractPublicKey()
		if err != nil {
			return fmt.Errorf("%w: %q: no embedded public key and none in peer ID %s: %w", ErrInvalidRecord, r.Key, r.Owner, err)
		}
		pub = pk
	}
	body, err := r.body()
	if err != nil {
		return err
	}
	ok, err := pub.Verify(signedBytes(body), r.Signature)
	if err != nil {
		return fmt.Errorf("%w: %q (seq %d): verify with the key of %s: %w", ErrBadSignature, r.Key, r.Seq, r.Owner, err)
	}
	if !ok {
		return fmt.Errorf("%w: %q (seq %d) is not signed by %s", ErrBadSignature, r.Key, r.Seq, r.Owner)
	}
	return nil
}
