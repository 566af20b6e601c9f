package records_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	"github.com/multiformats/go-multihash"

	"github.com/plexus-p2p/plexus/records"
)

func ed25519Key(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecdsaKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateECDSAKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRecord(t testing.TB, k crypto.PrivKey, name, value string, seq uint64, eol time.Time) (records.Record, []byte) {
	t.Helper()
	r, err := records.NewRecord(k, name, []byte(value), seq, eol)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

// forge signs r (whatever its key and owner say) with k, the way an attacker
// would, and returns its encoding.
func forge(t testing.TB, k crypto.PrivKey, r records.Record) []byte {
	t.Helper()
	r.Signature = []byte{0}
	enc, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	body := enc[:len(enc)-3] // strip signature length (2) and the 1-byte placeholder
	sig, err := k.Sign(append([]byte(records.SignaturePrefix), body...))
	if err != nil {
		t.Fatal(err)
	}
	r.Signature = sig
	out, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecordRoundTrip(t *testing.T) {
	eol := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name     string
		key      crypto.PrivKey
		embedded bool
	}{
		{"ed25519 key inlined in peer ID", ed25519Key(t), false},
		{"ecdsa key embedded", ecdsaKey(t), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, data := mustRecord(t, tc.key, "greeting", "hello", 7, eol)
			owner, _ := peer.IDFromPrivateKey(tc.key)
			if want := "/plexus/" + owner.String() + "/greeting"; r.Key != want {
				t.Fatalf("key = %q, want %q", r.Key, want)
			}
			if got := r.PublicKey != nil; got != tc.embedded {
				t.Fatalf("public key embedded = %v, want %v", got, tc.embedded)
			}
			got, err := records.Unmarshal(data)
			if err != nil {
				t.Fatal(err)
			}
			if got.Key != r.Key || got.Owner != owner || got.Name != "greeting" || string(got.Value) != "hello" ||
				got.Seq != 7 || !got.EOL.Equal(eol) || !bytes.Equal(got.Signature, r.Signature) || !bytes.Equal(got.PublicKey, r.PublicKey) {
				t.Fatalf("decoded %+v, want %+v", got, r)
			}
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("re-encoding differs (err %v)", err)
			}
			if err := (records.RecordValidator{}).Validate(r.Key, data); err != nil {
				t.Fatalf("valid record rejected: %v", err)
			}
		})
	}
}

func TestValidatorRejects(t *testing.T) {
	owner := ed25519Key(t)
	ownerID, _ := peer.IDFromPrivateKey(owner)
	ecOwner := ecdsaKey(t)
	attacker := ecdsaKey(t)
	attackerID, _ := peer.IDFromPrivateKey(attacker)
	eol := time.Now().Add(time.Hour)

	good, goodData := mustRecord(t, owner, "x", "hello", 3, eol)
	ecGood, ecData := mustRecord(t, ecOwner, "x", "hello", 3, eol)
	_, attackerData := mustRecord(t, attacker, "x", "evil", 9, eol)
	attackerPub, _ := crypto.MarshalPublicKey(attacker.GetPublic())

	// value changed in place, signature kept
	tampered := bytes.Clone(goodData)
	valueAt := 4 + 2 + len(good.Key) + 4
	tampered[valueAt] ^= 0xff
	// seq raised, signature kept
	seqRaised := bytes.Clone(goodData)
	seqRaised[valueAt+len("hello")+7]++
	// the attacker signs a record for the owner's key, embedding its own key
	stolen := good
	stolen.Value, stolen.Seq, stolen.PublicKey = []byte("evil"), 10, attackerPub
	stolenData := forge(t, attacker, stolen)
	// the ECDSA owner's embedded key swapped for the attacker's, re-signed
	ecStolen := ecGood
	ecStolen.PublicKey = attackerPub
	ecStolenData := forge(t, attacker, ecStolen)
	// same, but keeping the owner's embedded key (signature by the wrong key)
	ecWrongSig := ecGood
	ecWrongSig.Value = []byte("evil")
	ecWrongSigData := forge(t, attacker, ecWrongSig)

	_, expiredData := mustRecord(t, owner, "x", "old", 4, time.Now().Add(-time.Second))
	_, bigData := mustRecord(t, owner, "x", strings.Repeat("a", records.DefaultMaxValueSize+1), 5, eol)

	for _, tc := range []struct {
		name  string
		key   string
		value []byte
		want  error
	}{
		{"value tampered", good.Key, tampered, records.ErrBadSignature},
		{"seq tampered", good.Key, seqRaised, records.ErrBadSignature},
		{"record copied under another owner's key", good.Key, attackerData, records.ErrInvalidRecord},
		{"record copied under another name", records.Key(ownerID, "y"), goodData, records.ErrInvalidRecord},
		{"signed by another key", good.Key, stolenData, records.ErrNotOwner},
		{"embedded key replaced", ecGood.Key, ecStolenData, records.ErrNotOwner},
		{"signature by a key other than the embedded one", ecGood.Key, ecWrongSigData, records.ErrBadSignature},
		{"expired", good.Key, expiredData, records.ErrExpired},
		{"value over 16 KiB", good.Key, bigData, records.ErrValueTooLarge},
		{"truncated", good.Key, goodData[:len(goodData)-1], records.ErrInvalidRecord},
		{"trailing byte", good.Key, append(bytes.Clone(goodData), 0), records.ErrInvalidRecord},
		{"not a record", good.Key, []byte(`{"value":"hello"}`), records.ErrInvalidRecord},
		{"empty", good.Key, nil, records.ErrInvalidRecord},
		{"unknown namespace", "/other/" + ownerID.String() + "/x", goodData, records.ErrUnknownNamespace},
		{"malformed key", "plexus/x", goodData, records.ErrInvalidKey},
		{"attacker's own record is fine under its key", records.Key(attackerID, "x"), attackerData, nil},
		{"ecdsa owner's record is fine", ecGood.Key, ecData, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := records.RecordValidator{}.Validate(tc.key, tc.value)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !records.IsInvalid(err) {
				t.Fatalf("IsInvalid(%v) = false", err)
			}
		})
	}

	t.Run("limit and clock are configurable", func(t *testing.T) {
		_, data := mustRecord(t, owner, "x", "0123456789", 1, eol)
		err := records.RecordValidator{MaxValueSize: 9}.Validate(good.Key, data)
		if !errors.Is(err, records.ErrValueTooLarge) {
			t.Fatalf("err = %v, want ErrValueTooLarge", err)
		}
		late := func() time.Time { return eol.Add(time.Nanosecond) }
		if err := (records.RecordValidator{Now: late}).Validate(good.Key, data); !errors.Is(err, records.ErrExpired) {
			t.Fatalf("err = %v, want ErrExpired", err)
		}
	})
}

func TestSelect(t *testing.T) {
	k := ed25519Key(t)
	now := time.Now()
	r1, seq1 := mustRecord(t, k, "x", "one", 1, now.Add(10*time.Hour))
	_, seq2 := mustRecord(t, k, "x", "two", 2, now.Add(time.Hour))
	_, seq2Later := mustRecord(t, k, "x", "two", 2, now.Add(2*time.Hour))
	_, seq2Other := mustRecord(t, k, "x", "dup", 2, now.Add(2*time.Hour))
	v := records.RecordValidator{}

	for _, tc := range []struct {
		name   string
		values [][]byte
		want   int
	}{
		{"higher seq wins over later EOL", [][]byte{seq1, seq2}, 1},
		{"higher seq wins in any order", [][]byte{seq2, seq1}, 0},
		{"same seq: later EOL wins", [][]byte{seq2, seq2Later, seq1}, 1},
		{"identical: first", [][]byte{seq2, seq2}, 0},
		{"garbage ranks last", [][]byte{[]byte("junk"), seq1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Select(r1.Key, tc.values)
			if err != nil || got != tc.want {
				t.Fatalf("Select = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	t.Run("equal seq and EOL: same choice in any order", func(t *testing.T) {
		a, _ := v.Select(r1.Key, [][]byte{seq2Later, seq2Other})
		b, _ := v.Select(r1.Key, [][]byte{seq2Other, seq2Later})
		if a != 1-b {
			t.Fatalf("order-dependent choice: %d then %d", a, b)
		}
	})
	t.Run("nothing decodes", func(t *testing.T) {
		if _, err := v.Select(r1.Key, [][]byte{[]byte("junk")}); !errors.Is(err, records.ErrInvalidRecord) {
			t.Fatalf("err = %v, want ErrInvalidRecord", err)
		}
	})
}

func TestNamesAndKeys(t *testing.T) {
	id, _ := peer.IDFromPrivateKey(ed25519Key(t))
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"status", true},
		{"my.app:config-v2_ü", true},
		{strings.Repeat("n", records.MaxNameSize), true},
		{"", false},
		{strings.Repeat("n", records.MaxNameSize+1), false},
		{"a/b", false},
		{"a b", false},
		{"tab\there", false},
		{"nul\x00", false},
		{"\x1b[31mred", false},
		{"app\u202etxt", false},
		{"   ", false},
		{"\xff\xfe", false},
		{".", false},
		{"..", false},
	} {
		err := records.ValidateName(tc.name)
		if tc.ok != (err == nil) {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, records.ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, not ErrInvalidName", tc.name, err)
		}
	}

	for _, tc := range []struct {
		key  string
		want error
	}{
		{"/plexus/" + id.String() + "/status", nil},
		{"", records.ErrInvalidKey},
		{"plexus/" + id.String() + "/status", records.ErrInvalidKey},
		{"/plexus", records.ErrInvalidKey},
		{"/plexus/" + id.String(), records.ErrInvalidKey},
		{"/plexus/notapeerid/status", records.ErrInvalidKey},
		{"/plexus/" + peer.ToCid(id).String() + "/status", records.ErrInvalidKey}, // non-canonical peer ID
		{"/plexus/" + id.String() + "/", records.ErrInvalidName},
		{"/plexus/" + id.String() + "/a/b", records.ErrInvalidName},
		{"/ipns/" + id.String() + "/status", records.ErrUnknownNamespace},
		{"/other/thing", records.ErrUnknownNamespace},
	} {
		owner, name, err := records.ParseKey(tc.key)
		if tc.want == nil {
			if err != nil || owner != id || name != "status" {
				t.Errorf("ParseKey(%q) = %s, %q, %v", tc.key, owner, name, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("ParseKey(%q) err = %v, want %v", tc.key, err, tc.want)
		} else if tc.key != "" && !strings.Contains(err.Error(), tc.key) {
			t.Errorf("ParseKey(%q) err %q does not name the key", tc.key, err)
		}
	}
}

func TestProviderCID(t *testing.T) {
	c, err := records.ProviderCID("hello world")
	if err != nil {
		t.Fatal(err)
	}
	mh, _ := multihash.Sum([]byte("hello world"), multihash.SHA2_256, -1)
	if want := cid.NewCidV1(cid.Raw, mh); !c.Equals(want) {
		t.Fatalf("ProviderCID = %s, want %s", c, want)
	}
	same, err := records.ProviderCID(c.String())
	if err != nil || !same.Equals(c) {
		t.Fatalf("ProviderCID(%s) = %s, %v; want the CID itself", c, same, err)
	}
	if _, err := records.ProviderCID(""); !errors.Is(err, records.ErrInvalidProvideKey) {
		t.Fatalf("empty key: err = %v", err)
	}
	if _, err := records.ProviderCID(strings.Repeat("k", records.MaxProvideKeySize+1)); !errors.Is(err, records.ErrInvalidProvideKey) {
		t.Fatalf("long key: err = %v", err)
	}
	// Provide keys follow the rule of every shared name (topics, record
	// names): printable, not blank, not padded.
	for _, key := range []string{"nul\x00", "\x1b[31mred", "app\u202etxt", "zero\u200bwidth", "   ", " padded", "padded ", "a\tb", "\xff"} {
		if _, err := records.ProviderCID(key); !errors.Is(err, records.ErrInvalidProvideKey) {
			t.Errorf("ProviderCID(%q) = %v, want ErrInvalidProvideKey", key, err)
		}
	}
}

func TestValidatorNamespaces(t *testing.T) {
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	v := records.Validator(ps)
	for _, ns := range []string{"plexus", "pk", "ipns"} {
		if v[ns] == nil {
			t.Fatalf("namespace %q missing", ns)
		}
	}

	k := ecdsaKey(t)
	id, _ := peer.IDFromPrivateKey(k)
	pk, _ := crypto.MarshalPublicKey(k.GetPublic())
	if err := v.Validate(routing.KeyForPublicKey(id), pk); err != nil {
		t.Fatalf("pk record rejected: %v", err)
	}
	other, _ := crypto.MarshalPublicKey(ecdsaKey(t).GetPublic())
	if err := v.Validate(routing.KeyForPublicKey(id), other); err == nil {
		t.Fatal("pk record with the wrong key accepted")
	}

	p, _ := path.NewPath("/ipfs/bafkqaaa")
	rec, err := ipns.NewRecord(k, p, 1, time.Now().Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	data, err := ipns.MarshalRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(string(ipns.NameFromPeer(id).RoutingKey()), data); err != nil {
		t.Fatalf("ipns record rejected: %v", err)
	}
	if err := v.Validate(string(ipns.NameFromPeer(id).RoutingKey()), []byte("junk")); err == nil {
		t.Fatal("junk ipns record accepted")
	}

	_, plexusData := mustRecord(t, k, "x", "v", 1, time.Now().Add(time.Hour))
	if err := v.Validate(records.Key(id, "x"), plexusData); err != nil {
		t.Fatalf("plexus record rejected: %v", err)
	}
	if err := v.Validate("/unknown/x", plexusData); err == nil {
		t.Fatal("unknown namespace accepted")
	}
}

func TestOtherKey(t *testing.T) {
	id, _ := peer.IDFromPrivateKey(ed25519Key(t))
	name := ipns.NameFromPeer(id)
	for _, tc := range []struct {
		key, dhtKey, printable string
		owner                  peer.ID
	}{
		{"/pk/" + id.String(), routing.KeyForPublicKey(id), "/pk/" + id.String(), id},
		{"/pk/" + peer.ToCid(id).String(), routing.KeyForPublicKey(id), "/pk/" + id.String(), id},
		{routing.KeyForPublicKey(id), routing.KeyForPublicKey(id), "/pk/" + id.String(), id}, // the DHT's own form
		{"/ipns/" + id.String(), string(name.RoutingKey()), "/ipns/" + name.String(), id},
		{"/ipns/" + name.String(), string(name.RoutingKey()), "/ipns/" + name.String(), id},
		{"/other/thing", "/other/thing", "/other/thing", ""},
	} {
		dk, owner, printable, err := records.OtherKey(tc.key)
		if err != nil || dk != tc.dhtKey || owner != tc.owner || printable != tc.printable {
			t.Errorf("OtherKey(%q) = %q, %s, %q, %v; want %q, %s, %q", tc.key, dk, owner, printable, err, tc.dhtKey, tc.owner, tc.printable)
		}
	}
	for _, key := range []string{"", "pk", "/pk/", "/pk/not-a-peer", "/ipns/" + id.String() + "/x"} {
		if _, _, _, err := records.OtherKey(key); !errors.Is(err, records.ErrInvalidKey) {
			t.Errorf("OtherKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}
