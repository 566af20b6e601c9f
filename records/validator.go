package records

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/boxo/ipns"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/plexus-p2p/plexus/config"
)

// DefaultMaxValueSize is the default limit on a record's value: 16 KiB
// (config.DefaultRecordMaxValueSize). The whole encoded record adds the key,
// 30 bytes of fixed fields, the signature and, for RSA or ECDSA owners, the
// public key.
const DefaultMaxValueSize = config.DefaultRecordMaxValueSize

// Validator returns the record validator of a Plexus DHT, to be given to
// kad-dht with dht.Validator (not dht.NamespacedValidator):
//
//   - "plexus": RecordValidator with the default limits (Plexus records);
//   - "pk":     record.PublicKeyValidator (public keys by peer ID);
//   - "ipns":   ipns.Validator using kb (usually the host's peerstore) to find
//     keys that are not in the record or the name, as kad-dht does for /ipfs.
//
// kad-dht adds the "pk" and "ipns" validators itself only when the Validator
// option is not used; passing this map with dht.Validator replaces the default,
// so both are included here. kad-dht enforces the exact pk/ipns set only for
// the /ipfs protocol prefix; under /plexus any namespaced validator is allowed.
// To change the value size limit, replace the "plexus" entry with a
// RecordValidator that sets MaxValueSize; every node must use the same limit.
func Validator(kb peerstore.KeyBook) record.NamespacedValidator {
	return record.NamespacedValidator{
		Namespace: RecordValidator{},
		"pk":      record.PublicKeyValidator{},
		"ipns":    ipns.Validator{KeyBook: kb},
	}
}

// RecordValidator validates and orders Plexus records (record.Validator).
//
// Validate accepts a value for a key when it decodes as a record (see wire.go)
// whose embedded key equals the key, the key is /plexus/<peerID>/<name> with a
// valid name, the value is within MaxValueSize, the signature verifies with the
// owner's public key (embedded, and then it must match the peer ID, or extracted
// from the peer ID), and the EOL has not passed.
//
// Select prefers the highest seq, then the later EOL; among records equal on
// both it picks the greatest encoding so that every node makes the same choice.
type RecordValidator struct {
	// MaxValueSize limits the value in bytes. Default (0): DefaultMaxValueSize.
	MaxValueSize int
	// Now returns the current time, used to check the EOL. Default: time.Now.
	Now func() time.Time
}

var _ record.Validator = RecordValidator{}

// Validate implements record.Validator.
func (v RecordValidator) Validate(key string, value []byte) error {
	_, err := v.Decode(key, value)
	return err
}

// Decode validates value as the record stored under key (see Validate) and
// returns it.
func (v RecordValidator) Decode(key string, value []byte) (Record, error) {
	if _, _, err := ParseKey(key); err != nil {
		return Record{}, err
	}
	r, err := Unmarshal(value)
	if err != nil {
		return Record{}, fmt.Errorf("key %q: %w", key, err)
	}
	if r.Key != key {
		return Record{}, fmt.Errorf("%w: record for %q stored under %q", ErrInvalidRecord, r.Key, key)
	}
	if max := v.maxValueSize(); len(r.Value) > max {
		return Record{}, fmt.Errorf("%w: %q: %d bytes, at most %d", ErrValueTooLarge, key, len(r.Value), max)
	}
	if err := r.verifySignature(); err != nil {
		return Record{}, err
	}
	if now := v.now(); !now.Before(r.EOL) {
		return Record{}, fmt.Errorf("%w: %q (seq %d) expired at %s", ErrExpired, key, r.Seq, r.EOL.Format(time.RFC3339))
	}
	return r, nil
}

// Select implements record.Validator. Values that do not decode rank last; it
// fails only when none decodes.
func (v RecordValidator) Select(key string, values [][]byte) (int, error) {
	best := -1
	var bestRec Record
	for i, val := range values {
		r, err := Unmarshal(val)
		if err != nil || r.Key != key {
			continue
		}
		if best < 0 || better(r, val, bestRec, values[best]) {
			best, bestRec = i, r
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("%w: select %q: none of %d values decodes", ErrInvalidRecord, key, len(values))
	}
	return best, nil
}

// better reports whether record a (encoded as ab) beats record b (encoded as bb).
func better(a Record, ab []byte, b Record, bb []byte) bool {
	if a.Seq != b.Seq {
		return a.Seq > b.Seq
	}
	if !a.EOL.Equal(b.EOL) {
		return a.EOL.After(b.EOL)
	}
	return bytes.Compare(ab, bb) > 0
}

func (v RecordValidator) maxValueSize() int {
	if v.MaxValueSize > 0 {
		return v.MaxValueSize
	}
	return DefaultMaxValueSize
}

func (v RecordValidator) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// IsInvalid reports whether err says a record or key was rejected by
// validation (as opposed to not found, or a network or datastore failure).
func IsInvalid(err error) bool {
	for _, target := range []error{ErrInvalidKey, ErrUnknownNamespace, ErrInvalidName, ErrValueTooLarge,
		ErrInvalidRecord, ErrBadSignature, ErrNotOwner, ErrExpired, ErrInvalidProvideKey, ErrInvalidTTL} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
