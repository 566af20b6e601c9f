package records_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"

	"github.com/plexus-p2p/plexus/records"
)

// fuzzKey is a fixed Ed25519 key, so the seeds are valid records whose
// mutations the fuzzer explores.
func fuzzKey(t testing.TB) crypto.PrivKey {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	k, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fuzzNow is the validator's clock: before every seed's EOL.
var fuzzNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func recordSeeds(f *testing.F) [][]byte {
	k := fuzzKey(f)
	var out [][]byte
	for i, v := range []string{"", "hello", string(bytes.Repeat([]byte{0xff}, 300))} {
		r, err := records.NewRecord(k, "name", []byte(v), uint64(i), fuzzNow.Add(time.Hour))
		if err != nil {
			f.Fatal(err)
		}
		b, err := r.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	ecdsa := ecdsaKey(f)
	r, err := records.NewRecord(ecdsa, "with-pubkey", []byte("v"), 1, fuzzNow.Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	return append(out, b, []byte("PXR\x01"), []byte("PXR\x02\x00\x01/"), nil)
}

// FuzzUnmarshal decodes the Plexus record wire format. The encoding is
// canonical (wire.go): whatever decodes re-encodes to the same bytes.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range recordSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := records.Unmarshal(data)
		if err != nil {
			if !records.IsInvalid(err) {
				t.Fatalf("decode error is not a validation error: %v", err)
			}
			return
		}
		if r.Key != records.Key(r.Owner, r.Name) {
			t.Fatalf("key %q is not /plexus/%s/%s", r.Key, r.Owner, r.Name)
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("not canonical:\n in  %x\n out %x", data, again)
		}
	})
}

// FuzzValidate runs the DHT's validator (the one kad-dht calls on every
// PUT_VALUE and GET_VALUE answer) on a key and a value: it accepts only a
// record for that key that verifies, and Select never picks a value that
// does not decode.
func FuzzValidate(f *testing.F) {
	for _, s := range recordSeeds(f) {
		r, err := records.Unmarshal(s)
		key := "/plexus/x/name"
		if err == nil {
			key = r.Key
		}
		f.Add(key, s)
	}
	f.Add("/pk/abc", []byte("not a key"))
	f.Add("/ipns/abc", []byte{0x0a, 0x00})
	f.Add("/other/abc", []byte{})
	v := records.RecordValidator{Now: func() time.Time { return fuzzNow }}
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ps.Close() })
	nv := records.Validator(ps)
	nv["plexus"] = v
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		r, err := v.Decode(key, value)
		if err == nil {
			if r.Key != key {
				t.Fatalf("record for %q accepted under %q", r.Key, key)
			}
			if !fuzzNow.Before(r.EOL) {
				t.Fatalf("expired record accepted (EOL %s)", r.EOL)
			}
		} else if !records.IsInvalid(err) {
			t.Fatalf("refusal is not a validation error: %v", err)
		}
		_ = nv.Validate(key, value) // every namespace: must not panic
		if i, err := v.Select(key, [][]byte{value, value}); err == nil {
			if _, err := records.Unmarshal(value); err != nil || i < 0 || i > 1 {
				t.Fatalf("select picked %d of values that do not decode (%v)", i, err)
			}
		}
	})
}

// FuzzParseKey parses record keys from the API and the DHT.
func FuzzParseKey(f *testing.F) {
	k := fuzzKey(f)
	r, err := records.NewRecord(k, "name", nil, 0, fuzzNow)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{r.Key, "/plexus/", "/plexus/x/y/z", "/pk/" + string(r.Owner), "", "/", "/plexus/" + r.Owner.String() + "/" + string(make([]byte, 300))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		owner, name, err := records.ParseKey(key)
		if err != nil {
			return
		}
		if records.Key(owner, name) != key {
			t.Fatalf("ParseKey(%q) = %s, %q, which is key %q", key, owner, name, records.Key(owner, name))
		}
		if err := records.ValidateName(name); err != nil {
			t.Fatalf("ParseKey(%q) accepted name %q: %v", key, name, err)
		}
		_, _, _, _ = records.OtherKey(key)
		_, _ = records.ProviderCID(key)
	})
}
