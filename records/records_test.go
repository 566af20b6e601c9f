package records_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-datastore"
	dhtrecords "github.com/libp2p/go-libp2p-kad-dht/records"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/routing"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/records"
)

const netSize = 30

// getEverywhere fetches key from every node except skip and checks it has
// value and seq.
func getEverywhere(t *testing.T, net *network, key string, skip int, value string, seq uint64) {
	t.Helper()
	for i, nd := range net.nodes {
		if i == skip {
			continue
		}
		rec, err := nd.svc.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("node %d: get %s: %v", i, key, err)
		}
		if string(rec.Value) != value || rec.Seq != seq {
			t.Fatalf("node %d: get %s = %q seq %d, want %q seq %d", i, key, rec.Value, rec.Seq, value, seq)
		}
	}
}

// acrossNetwork is the network of one subtest of TestRecordsAcrossNetwork:
// netSize connected nodes, each subtest its own, so that every subtest runs
// alone. owner (node 0) has an Ed25519 key, inlined in its peer ID; ecOwner
// (node 4) an ECDSA key, embedded in its records.
func acrossNetwork(t *testing.T) (net *network, owner, ecOwner *node) {
	t.Helper()
	net = newNetwork(t, netSize, netConfig{})
	return net, net.nodes[0], net.nodes[4]
}

// putStatus puts o's "status" record with each value in turn (seq 1, 2,
// ...): the state that earlier writes leave for a subtest to start from.
func putStatus(t *testing.T, o *node, values ...string) {
	t.Helper()
	for _, v := range values {
		if _, err := o.svc.Put(t.Context(), "status", []byte(v), 0); err != nil {
			t.Fatalf("put status %q: %v", v, err)
		}
	}
}

func TestRecordsAcrossNetwork(t *testing.T) {
	t.Run("put on one node, get from every other", func(t *testing.T) {
		net, owner, ecOwner := acrossNetwork(t)
		ctx := t.Context()
		for _, o := range []*node{owner, ecOwner} {
			rec, err := o.svc.Put(ctx, "status", []byte("hello from "+o.id().String()), 0)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Seq != 1 || rec.Owner != o.id() || rec.Key != records.Key(o.id(), "status") {
				t.Fatalf("put returned %+v", rec)
			}
			if d := time.Until(rec.EOL); d < 23*time.Hour || d > 24*time.Hour {
				t.Fatalf("EOL %s is not about 24h away", rec.EOL)
			}
			skip := 0
			if o == ecOwner {
				skip = 4
			}
			getEverywhere(t, net, rec.Key, skip, "hello from "+o.id().String(), 1)
		}
		put := owner.pub.Data(records.EventRecordPut)
		if len(put) != 1 || put[0].(records.RecordEvent).Key != records.Key(owner.id(), "status") || put[0].(records.RecordEvent).Seq != 1 {
			t.Fatalf("record.put events: %+v", put)
		}
		got := net.nodes[1].pub.Data(records.EventRecordGot)
		if len(got) != 2 || got[0].(records.RecordEvent).Owner != owner.id() {
			t.Fatalf("record.got events on node 1: %+v", got)
		}
	})

	t.Run("newer seq replaces older everywhere", func(t *testing.T) {
		net, owner, _ := acrossNetwork(t)
		putStatus(t, owner, "hello from "+owner.id().String())
		ctx := t.Context()
		rec, err := owner.svc.Put(ctx, "status", []byte("second"), 0)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Seq != 2 {
			t.Fatalf("seq = %d, want 2", rec.Seq)
		}
		getEverywhere(t, net, rec.Key, 0, "second", 2)
		own, err := owner.svc.OwnRecords(ctx)
		if err != nil || len(own) != 1 || own[0].Seq != 2 || string(own[0].Value) != "second" {
			t.Fatalf("OwnRecords = %+v, %v", own, err)
		}
	})

	t.Run("republish keeps seq and extends EOL", func(t *testing.T) {
		net, owner, _ := acrossNetwork(t)
		putStatus(t, owner, "hello from "+owner.id().String(), "second")
		ctx := t.Context()
		key := records.Key(owner.id(), "status")
		before, err := net.nodes[7].svc.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := owner.svc.Republish(ctx); err != nil {
			t.Fatal(err)
		}
		own, _ := owner.svc.OwnRecords(ctx)
		if len(own) != 1 || own[0].Seq != 2 || !own[0].EOL.After(before.EOL) {
			t.Fatalf("own record after republish: %+v (before: EOL %s)", own, before.EOL)
		}
		for _, i := range []int{7, 13, 29} {
			after, err := net.nodes[i].svc.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if after.Seq != 2 || string(after.Value) != "second" || !after.EOL.Equal(own[0].EOL) {
				t.Fatalf("node %d after republish: seq %d %q EOL %s, want seq 2 EOL %s", i, after.Seq, after.Value, after.EOL, own[0].EOL)
			}
		}
	})

	t.Run("missing record", func(t *testing.T) {
		net, owner, _ := acrossNetwork(t)
		ctx := t.Context()
		_, err := net.nodes[3].svc.Get(ctx, records.Key(owner.id(), "never-written"))
		if !errors.Is(err, records.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("get is bounded by ctx", func(t *testing.T) {
		net, owner, _ := acrossNetwork(t)
		ctx := t.Context()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := net.nodes[3].svc.Get(cctx, records.Key(owner.id(), "status"))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})

	t.Run("value limit", func(t *testing.T) {
		net, owner, _ := acrossNetwork(t)
		ctx := t.Context()
		big := bytes.Repeat([]byte("x"), records.DefaultMaxValueSize+1)
		_, err := owner.svc.Put(ctx, "big", big, 0)
		if !errors.Is(err, records.ErrValueTooLarge) || !strings.Contains(err.Error(), "16385") {
			t.Fatalf("err = %v, want ErrValueTooLarge naming the size", err)
		}
		if _, err := net.nodes[9].svc.Get(ctx, records.Key(owner.id(), "big")); !errors.Is(err, records.ErrNotFound) {
			t.Fatalf("refused record found: %v", err)
		}
		own, _ := owner.svc.OwnRecords(ctx)
		for _, r := range own {
			if r.Name == "big" {
				t.Fatal("refused record kept as own record")
			}
		}
		// A node that skips the check still cannot store it anywhere.
		forged, err := records.NewRecord(owner.key, "big", big, 1, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := forged.Marshal()
		if err := owner.dht.PutValue(ctx, forged.Key, data); !errors.Is(err, records.ErrValueTooLarge) {
			t.Fatalf("raw put of a 16 KiB+1 value: err = %v", err)
		}
		exact := bytes.Repeat([]byte("y"), records.DefaultMaxValueSize)
		rec, err := owner.svc.Put(ctx, "exact", exact, 0)
		if err != nil {
			t.Fatalf("16 KiB value refused: %v", err)
		}
		got, err := net.nodes[20].svc.Get(ctx, rec.Key)
		if err != nil || !bytes.Equal(got.Value, exact) {
			t.Fatalf("16 KiB value: get = %d bytes, %v", len(got.Value), err)
		}
	})

	t.Run("bad names and keys", func(t *testing.T) {
		net, owner, _ := acrossNetwork(t)
		ctx := t.Context()
		for _, name := range []string{"", "a/b", "..", "with space", strings.Repeat("n", 201)} {
			if _, err := owner.svc.Put(ctx, name, []byte("v"), 0); !errors.Is(err, records.ErrInvalidName) {
				t.Errorf("Put(%q): err = %v, want ErrInvalidName", name, err)
			}
		}
		for key, want := range map[string]error{
			"status":                records.ErrInvalidKey,
			"/plexus/nobody/status": records.ErrInvalidKey,
			"/unknown/" + owner.id().String() + "/status": records.ErrUnknownNamespace,
			records.Key(owner.id(), "a b"):                records.ErrInvalidName,
		} {
			_, err := net.nodes[2].svc.Get(ctx, key)
			if !errors.Is(err, want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
				t.Errorf("Get(%q): err = %v, want %v naming the key", key, err, want)
			}
		}
		// The DHT itself refuses namespaces the validator does not know.
		if err := owner.dht.PutValue(ctx, "/unknown/x", []byte("v")); !errors.Is(err, record.ErrInvalidRecordType) {
			t.Errorf("raw put to an unknown namespace: err = %v", err)
		}
	})

	t.Run("pk and ipns namespaces still work", func(t *testing.T) {
		net, _, ecOwner := acrossNetwork(t)
		ctx := t.Context()
		k := ecOwner.key
		pk, _ := crypto.MarshalPublicKey(k.GetPublic())
		pkKey := routing.KeyForPublicKey(ecOwner.id())
		if err := ecOwner.dht.PutValue(ctx, pkKey, pk); err != nil {
			t.Fatal(err)
		}
		if got, err := net.nodes[17].dht.GetValue(ctx, pkKey); err != nil || !bytes.Equal(got, pk) {
			t.Fatalf("get /pk: %v", err)
		}

		p, _ := path.NewPath("/ipfs/bafkqaaa")
		rec, err := ipns.NewRecord(k, p, 1, time.Now().Add(time.Hour), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := ipns.MarshalRecord(rec)
		ipnsKey := string(ipns.NameFromPeer(ecOwner.id()).RoutingKey())
		if err := ecOwner.dht.PutValue(ctx, ipnsKey, data); err != nil {
			t.Fatal(err)
		}
		if got, err := net.nodes[23].dht.GetValue(ctx, ipnsKey); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get /ipns: %v", err)
		}
	})

	t.Run("provide and find providers", func(t *testing.T) {
		net, _, _ := acrossNetwork(t)
		ctx := t.Context()
		provider := net.nodes[3]
		cidKey := "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
		for _, key := range []string{"chat-room:lobby", cidKey} {
			if err := provider.svc.Provide(ctx, key); err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 11, 26} {
				provs, err := net.nodes[i].svc.FindProviders(ctx, key, 1)
				if err != nil {
					t.Fatal(err)
				}
				if len(provs) != 1 || provs[0].ID != provider.id() {
					t.Fatalf("node %d: providers of %q = %v, want %s", i, key, provs, provider.id())
				}
			}
		}
		provided, err := provider.svc.Provided(ctx)
		if err != nil || len(provided) != 2 {
			t.Fatalf("Provided = %+v, %v", provided, err)
		}
		if ev := provider.pub.Data(records.EventProviderAdded); len(ev) != 2 || ev[0].(records.ProviderEvent).Key != "chat-room:lobby" {
			t.Fatalf("provider.added events: %+v", ev)
		}
		if err := provider.svc.Reprovide(ctx); err != nil {
			t.Fatal(err)
		}
		if err := provider.svc.StopProviding(ctx, "chat-room:lobby"); err != nil {
			t.Fatal(err)
		}
		provided, _ = provider.svc.Provided(ctx)
		if len(provided) != 1 || provided[0].Key != cidKey {
			t.Fatalf("Provided after StopProviding = %+v", provided)
		}
		if provs, err := net.nodes[5].svc.FindProviders(ctx, "nobody-provides-this", 1); err != nil || len(provs) != 0 {
			t.Fatalf("providers of an unprovided key = %v, %v", provs, err)
		}
		if err := provider.svc.Provide(ctx, ""); !errors.Is(err, records.ErrInvalidProvideKey) {
			t.Fatalf("empty key: err = %v", err)
		}
	})
}

// permissive accepts anything in the plexus namespace: an attacker's node that
// skips validation and pushes whatever it likes.
type permissive struct{}

func (permissive) Validate(string, []byte) error        { return nil }
func (permissive) Select(string, [][]byte) (int, error) { return 0, nil } // the newest write wins
func evilValidator(_ int, h host.Host) record.Validator {
	v := records.Validator(h.Peerstore())
	v[records.Namespace] = permissive{}
	return v
}

func TestForgedRecordsAreRejected(t *testing.T) {
	const evil = netSize - 1
	net := newNetwork(t, netSize, netConfig{validator: func(i int, h host.Host) record.Validator {
		if i == evil {
			return evilValidator(i, h)
		}
		return records.Validator(h.Peerstore())
	}})
	ctx := t.Context()
	owner := net.nodes[0]
	attacker := net.nodes[evil]

	orig, err := owner.svc.Put(ctx, "x", []byte("original"), 0)
	if err != nil {
		t.Fatal(err)
	}
	origData, _ := orig.Marshal()

	attackerPub, _ := crypto.MarshalPublicKey(attacker.key.GetPublic())
	stolen := orig
	stolen.Value, stolen.Seq, stolen.PublicKey = []byte("stolen"), 100, attackerPub
	tampered := orig
	tampered.Value, tampered.Seq = []byte("tampered"), 50 // signature kept
	tamperedData, err := tampered.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	mine, err := records.NewRecord(attacker.key, "x", []byte("mine"), 200, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	mineData, _ := mine.Marshal()

	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"value changed, signature kept", tamperedData, records.ErrBadSignature},
		{"signed by another peer for the owner's key", forge(t, attacker.key, stolen), records.ErrNotOwner},
		{"attacker's own record copied under the owner's key", mineData, records.ErrInvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An honest node refuses to send it at all.
			if err := net.nodes[5].dht.PutValue(ctx, orig.Key, tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("honest node's raw PutValue: err = %v, want %v", err, tc.want)
			}
			// The attacker skips validation and pushes it to the closest peers.
			if err := attacker.dht.PutValue(ctx, orig.Key, tc.data); err != nil {
				t.Fatalf("attacker's PutValue: %v", err)
			}
			// Not stored: each honest node's datastore still holds the original,
			// if anything. (Checked before any Get, since a Get pushes the best
			// record it found to the peers that answered something else.)
			holders := 0
			for i, nd := range net.nodes[:evil] {
				vs := dhtrecords.NewValueStore(nd.ds, records.Validator(nd.host.Peerstore()), 0)
				stored, err := vs.Get(ctx, orig.Key)
				if err != nil {
					t.Fatal(err)
				}
				if stored != nil && !bytes.Equal(stored.GetValue(), origData) {
					t.Fatalf("node %d stored the forged record", i)
				}
				if stored != nil {
					holders++
				}
			}
			if holders == 0 {
				t.Fatal("no node holds the original record")
			}
			// Not returned, even though the attacker serves it.
			for i, nd := range net.nodes[:evil] {
				rec, err := nd.svc.Get(ctx, orig.Key)
				if err != nil {
					t.Fatalf("node %d: %v", i, err)
				}
				if string(rec.Value) != "original" || rec.Seq != 1 {
					t.Fatalf("node %d got %q seq %d", i, rec.Value, rec.Seq)
				}
			}
		})
	}
}

func TestRecordsSurviveRestart(t *testing.T) {
	const n = 8
	ctx := t.Context()
	dirs := make([]string, n)
	keys := make([]crypto.PrivKey, n)
	for i := range n {
		dirs[i] = t.TempDir()
		keys[i] = genKey(t, i)
	}
	cfg := netConfig{keys: keys, datastore: func(i int) datastore.Batching { return openLevelDB(t, dirs[i]) }}

	net := newNetwork(t, n, cfg)
	owner, provider := net.nodes[0], net.nodes[1]
	for _, v := range []string{"v1", "v2"} {
		if _, err := owner.svc.Put(ctx, "persist", []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := provider.svc.Provide(ctx, "persisted-key"); err != nil {
		t.Fatal(err)
	}
	key := records.Key(owner.id(), "persist")
	getEverywhere(t, net, key, 0, "v2", 2)

	// Stop every node and close its LevelDB, then reopen them all from disk,
	// unconnected: whatever they answer now comes from their own datastore.
	for _, nd := range net.nodes {
		nd.close()
	}
	net.nodes = nil
	cfg.noConnect = true
	net = newNetwork(t, n, cfg)
	for i, nd := range net.nodes {
		if nd.dht.RoutingTable().Size() != 0 {
			t.Fatalf("node %d is connected", i)
		}
		rec, err := nd.svc.Get(ctx, key)
		if err != nil {
			t.Fatalf("node %d after restart: %v", i, err)
		}
		if string(rec.Value) != "v2" || rec.Seq != 2 {
			t.Fatalf("node %d after restart: %q seq %d", i, rec.Value, rec.Seq)
		}
		if i == 1 {
			continue
		}
		provs, err := nd.svc.FindProviders(ctx, "persisted-key", 1)
		if err != nil || len(provs) != 1 || provs[0].ID != net.nodes[1].id() {
			t.Fatalf("node %d after restart: providers = %v, %v", i, provs, err)
		}
	}
	owner, provider = net.nodes[0], net.nodes[1]
	if own, err := owner.svc.OwnRecords(ctx); err != nil || len(own) != 1 || own[0].Seq != 2 {
		t.Fatalf("own records after restart: %+v, %v", own, err)
	}
	if p, err := provider.svc.Provided(ctx); err != nil || len(p) != 1 || p[0].Key != "persisted-key" {
		t.Fatalf("provided after restart: %+v, %v", p, err)
	}

	// The seq continues where it was.
	net.connect(t, 2)
	rec, err := owner.svc.Put(ctx, "persist", []byte("v3"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seq != 3 {
		t.Fatalf("seq after restart = %d, want 3", rec.Seq)
	}
	getEverywhere(t, net, key, 0, "v3", 3)
}

func TestRepublisher(t *testing.T) {
	net := newNetwork(t, 6, netConfig{noConnect: true, svcOpts: []records.Option{records.WithRetryInterval(50 * time.Millisecond)}})
	ctx := t.Context()
	owner := net.nodes[0]

	// Offline: the record is kept but cannot be sent.
	if _, err := owner.svc.Put(ctx, "later", []byte("queued"), time.Hour); err == nil {
		t.Fatal("put with an empty routing table succeeded")
	}
	if err := owner.svc.Provide(ctx, "later-key"); err == nil {
		t.Fatal("provide with an empty routing table succeeded")
	}
	own, err := owner.svc.OwnRecords(ctx)
	if err != nil || len(own) != 1 || own[0].Seq != 1 {
		t.Fatalf("own records: %+v, %v", own, err)
	}

	// Once the node has peers, the republisher delivers both to them.
	net.connect(t, 2)
	c, _ := records.ProviderCID("later-key")
	elsewhere := func() (recs, provs int) {
		for _, nd := range net.nodes[1:] {
			vs := dhtrecords.NewValueStore(nd.ds, records.Validator(nd.host.Peerstore()), 0)
			if r, err := vs.Get(ctx, own[0].Key); err == nil && r != nil {
				recs++
			}
			ps, err := nd.dht.ProviderStore().GetProviders(ctx, c.Hash())
			for _, p := range ps {
				if err == nil && p.ID == owner.id() {
					provs++
				}
			}
		}
		return recs, provs
	}
	if recs, provs := elsewhere(); recs != 0 || provs != 0 {
		t.Fatalf("before Start, %d nodes hold the record and %d the provider record", recs, provs)
	}
	if err := owner.svc.Start(); err != nil {
		t.Fatal(err)
	}
	if err := owner.svc.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	testnet.Eventually(t, 20*time.Second, func() bool {
		recs, provs := elsewhere()
		return recs > 0 && provs > 0
	}, "republisher never sent %s and later-key to other nodes", own[0].Key)
	rec, err := net.nodes[3].svc.Get(ctx, own[0].Key)
	if err != nil || string(rec.Value) != "queued" || rec.Seq != 1 {
		t.Fatalf("get after republish: %q seq %d, %v", rec.Value, rec.Seq, err)
	}

	if err := owner.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := owner.svc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := owner.svc.Start(); err == nil {
		t.Fatal("Start after Close succeeded")
	}

	if err := owner.svc.Forget(ctx, "later"); err != nil {
		t.Fatal(err)
	}
	if own, _ := owner.svc.OwnRecords(ctx); len(own) != 0 {
		t.Fatalf("own records after Forget: %+v", own)
	}
}

// A put with a TTL below the minimum is refused before anything is stored:
// it used to fail in the DHT (the record had expired before it was
// validated) while the record stayed among the node's own records, to be
// republished every TTL/2 with the same result.
func TestShortTTLLeavesNothing(t *testing.T) {
	net := newNetwork(t, 2, netConfig{})
	ctx := t.Context()
	owner := net.nodes[0]
	for _, ttl := range []time.Duration{time.Nanosecond, time.Second, records.MinTTL - time.Millisecond} {
		_, err := owner.svc.Put(ctx, "brief", []byte("v"), ttl)
		if !errors.Is(err, records.ErrInvalidTTL) {
			t.Errorf("put with TTL %s: %v, want ErrInvalidTTL", ttl, err)
		}
	}
	if own, err := owner.svc.OwnRecords(ctx); err != nil || len(own) != 0 {
		t.Fatalf("own records after refused puts: %+v, %v", own, err)
	}
	key := records.Key(owner.id(), "brief")
	for i, nd := range net.nodes {
		vs := dhtrecords.NewValueStore(nd.ds, records.Validator(nd.host.Peerstore()), 0)
		if r, err := vs.Get(ctx, key); err == nil && r != nil {
			t.Errorf("node %d stores %s after refused puts", i, key)
		}
	}
	// The shortest TTL allowed works.
	rec, err := owner.svc.Put(ctx, "brief", []byte("v"), records.MinTTL)
	if err != nil || rec.Seq != 1 || time.Until(rec.EOL) > records.MinTTL {
		t.Fatalf("put with the minimum TTL: %+v, %v", rec, err)
	}
}
