package routing_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	record "github.com/libp2p/go-libp2p-record"
	recpb "github.com/libp2p/go-libp2p-record/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	corerouting "github.com/libp2p/go-libp2p/core/routing"
	mh "github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/proto"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/records"
	"github.com/plexus-p2p/plexus/routing"
)

// dualNode is a mocknet host with both DHTs, as a node with Amino on.
type dualNode struct {
	key           crypto.PrivKey
	plexus, amino *routing.Service
	both          *routing.Combined
}

// dualNetwork starts n hosts on a mocknet, each with a Plexus DHT (with
// the plexus validator) and an Amino DHT in server mode, except the last,
// which runs only an Amino DHT (as an IPFS node does: plexus and both are
// nil); node 0 is the Amino bootstrap peer of the others, which connect to
// nobody themselves. It waits until every Amino table holds the n-1
// others.
func dualNetwork(t *testing.T, n int) (*testnet.Net, []dualNode) {
	t.Helper()
	mn := testnet.NewNet(t)
	keys := make([]crypto.PrivKey, n)
	for i := range keys {
		keys[i] = testnet.NewKey(t)
		mn.AddHost(keys[i])
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	hosts := mn.Hosts()
	nodes := make([]dualNode, n)
	for i, key := range keys {
		var h host.Host
		for _, hh := range hosts {
			if hh.Peerstore().PrivKey(hh.ID()).Equals(key) {
				h = hh
			}
		}
		var p *routing.Service
		if i < n-1 {
			p = newRouting(t, h, routing.WithValidators(records.Validator(h.Peerstore())))
		}
		var boot []routing.Option
		if i > 0 {
			h0 := nodes[0].amino.DHT().Host()
			boot = append(boot, routing.WithBootstrapPeers(peer.AddrInfo{ID: h0.ID(), Addrs: h0.Addrs()}))
		}
		a, err := routing.NewAmino(h, append(boot, routing.WithLogger(quiet), routing.WithMode(routing.ModeServer))...)
		if err != nil {
			t.Fatalf("NewAmino: %v", err)
		}
		t.Cleanup(func() { _ = a.Close() })
		nodes[i] = dualNode{key: key, plexus: p, amino: a}
		if p != nil {
			nodes[i].both = routing.Combine(p, a)
		}
	}
	for i, nd := range nodes {
		testnet.Eventually(t, 30*time.Second, func() bool {
			if nd.amino.Size() < n-1 {
				_ = nd.amino.Bootstrap(t.Context())
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				_ = nd.amino.Refresh(ctx)
				cancel()
			}
			return nd.amino.Size() == n-1
		}, "node %d Amino table has %d peers, want %d", i, nd.amino.Size(), n-1)
	}
	return mn, nodes
}

func TestNewAminoRefusesOtherPrefixOrValidators(t *testing.T) {
	h := testnet.NewNet(t).AddHost(nil)
	for name, opt := range map[string]routing.Option{
		"prefix":    routing.WithProtocolPrefix("/plexus"),
		"validator": routing.WithValidator("plexus", records.RecordValidator{}),
	} {
		if a, err := routing.NewAmino(h, opt); !errors.Is(err, routing.ErrAminoFixed) {
			if a != nil {
				a.Close()
			}
			t.Errorf("NewAmino with a %s: %v, want ErrAminoFixed", name, err)
		}
	}
	// The plexus validator on the /ipfs prefix is what kad-dht refuses:
	// the reason the Amino DHT is a second instance.
	_, err := routing.New(h, routing.WithProtocolPrefix(routing.AminoPrefix), routing.WithValidators(records.Validator(h.Peerstore())))
	if err == nil {
		t.Fatal("routing.New on /ipfs with the plexus validator started")
	}
}

func TestAminoRecordsAndProviders(t *testing.T) {
	mn, nodes := dualNetwork(t, 5)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	owner, reader := nodes[1], nodes[3]
	id := owner.amino.DHT().Host().ID()

	st := owner.amino.Status()
	if !st.Amino || st.Protocol != "/ipfs/kad/1.0.0" || st.Mode != routing.ModeServer || st.Size != 4 {
		t.Errorf("Amino status %+v", st)
	}
	if got := owner.both.Status(); len(got) != 2 || got[0].Amino || !got[1].Amino {
		t.Errorf("combined status %+v", got)
	}

	// Exactly pk and ipns: a Plexus record is refused on Amino.
	nv, ok := owner.amino.Validator().(record.NamespacedValidator)
	if !ok || len(nv) != 2 || nv["pk"] == nil || nv["ipns"] == nil {
		t.Fatalf("Amino validators %v, want exactly pk and ipns", nv)
	}
	prec, err := records.NewRecord(owner.key, "hello", []byte("world"), 1, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pdata, err := prec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.amino.PutValue(ctx, prec.Key, pdata); err == nil {
		t.Fatal("the Amino DHT stored a plexus record")
	}
	// Through Combined the plexus record goes to the Plexus DHT only.
	if err := owner.both.PutValue(ctx, prec.Key, pdata); err != nil {
		t.Fatalf("put plexus record: %v", err)
	}
	if got, err := reader.both.GetValue(ctx, prec.Key); err != nil || string(got) != string(pdata) {
		t.Fatalf("get plexus record: %v", err)
	}
	if _, err := reader.amino.GetValue(ctx, prec.Key); err == nil {
		t.Fatal("the Amino DHT answered a plexus key")
	}

	// /pk/ and /ipns/ stored on Amino only are read through Combined.
	pk, err := crypto.MarshalPublicKey(owner.key.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	pkKey := corerouting.KeyForPublicKey(id)
	if err := owner.amino.PutValue(ctx, pkKey, pk); err != nil {
		t.Fatalf("put /pk/ on Amino: %v", err)
	}
	target, err := path.NewPath("/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	if err != nil {
		t.Fatal(err)
	}
	name := ipns.NameFromPeer(id)
	ipnsRecord := func(seq uint64) []byte {
		r, err := ipns.NewRecord(owner.key, target, seq, time.Now().Add(time.Hour), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ipns.MarshalRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	older, newer := ipnsRecord(1), ipnsRecord(2)
	if err := owner.amino.PutValue(ctx, string(name.RoutingKey()), newer); err != nil {
		t.Fatalf("put /ipns/ on Amino: %v", err)
	}
	if _, err := reader.plexus.GetValue(ctx, pkKey); !errors.Is(err, corerouting.ErrNotFound) {
		t.Fatalf("the Plexus DHT has the /pk/ record put on Amino only: %v", err)
	}
	if got, err := reader.both.GetValue(ctx, pkKey); err != nil || string(got) != string(pk) {
		t.Fatalf("get /pk/ through both DHTs: %v", err)
	}
	// The Plexus DHT holds an older IPNS record: the newer one wins.
	if err := owner.plexus.PutValue(ctx, string(name.RoutingKey()), older); err != nil {
		t.Fatalf("put older /ipns/ on Plexus: %v", err)
	}
	if got, err := reader.both.GetValue(ctx, string(name.RoutingKey())); err != nil || string(got) != string(newer) {
		t.Fatalf("get /ipns/ through both DHTs: %v (newer record: %t)", err, string(got) == string(newer))
	}
	ch, err := reader.both.SearchValue(ctx, string(name.RoutingKey()))
	if err != nil {
		t.Fatal(err)
	}
	var last []byte
	for v := range ch {
		last = v
	}
	if string(last) != string(newer) {
		t.Fatalf("search /ipns/ through both DHTs ended on another value than the newer record")
	}

	// A provider announced on Amino alone is found through Combined; one
	// announced through Combined is found on each DHT alone.
	onAmino, onBoth := testCID(t, "amino only"), testCID(t, "both")
	if err := owner.amino.Provide(ctx, onAmino, true); err != nil {
		t.Fatalf("provide on Amino: %v", err)
	}
	if err := owner.both.Provide(ctx, onBoth, true); err != nil {
		t.Fatalf("provide on both: %v", err)
	}
	wantProvider := func(cr corerouting.ContentRouting, c cid.Cid, what string) {
		t.Helper()
		var got []peer.ID
		for ai := range cr.FindProvidersAsync(ctx, c, 0) {
			got = append(got, ai.ID)
		}
		if len(got) != 1 || got[0] != id {
			t.Errorf("%s: providers %v, want just %s", what, got, id)
		}
	}
	wantProvider(reader.both, onAmino, "provided on Amino, found through both")
	wantProvider(reader.amino, onBoth, "provided on both, found on Amino")
	wantProvider(reader.plexus, onBoth, "provided on both, found on Plexus")
	wantProvider(reader.both, onBoth, "provided on both, found through both (once)")

	// FindPeer through Combined finds a peer only the Amino DHT knows: an
	// IPFS node linked to the other IPFS node and to the reader alone (a
	// DHT lookup answers only peers it could dial), so that no node of the
	// Plexus DHT is connected to it.
	// It runs no lookup of its own (no refresh), so it never dials the
	// reader: the reader reaches it only through a lookup of its own.
	h5, h4 := mn.AddHost(nil), nodes[4].amino.DHT().Host()
	a5, err := routing.NewAmino(h5, routing.WithLogger(quiet), routing.WithMode(routing.ModeServer),
		routing.WithDHTOptions(dht.DisableAutoRefresh()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a5.Close() })
	mn.Connect(h5, h4)
	if _, err := mn.LinkPeers(h5.ID(), reader.plexus.DHT().Host().ID()); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return a5.Size() == 1 && nodes[4].amino.DHT().RoutingTable().Find(h5.ID()) != "" },
		"the hidden IPFS node and its only peer did not add each other: sizes %d, %d", a5.Size(), nodes[4].amino.Size())
	rh := reader.plexus.DHT().Host()
	rh.Peerstore().ClearAddrs(h5.ID())
	if f, err := reader.plexus.FindPeer(ctx, h5.ID()); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("the Plexus DHT found a node that does not speak it: %+v, %v", f, err)
	}
	// In a network this small a lookup may end (its closest peers have
	// answered) before the one peer that knows the target does: try again,
	// from scratch each time.
	var found routing.Found
	testnet.Eventually(t, 20*time.Second, func() bool {
		_ = rh.Network().ClosePeer(h5.ID())
		rh.Peerstore().ClearAddrs(h5.ID())
		found, err = reader.both.FindPeer(ctx, h5.ID())
		return err == nil
	}, "find peer through both DHTs: %v", testnet.Lazy(func() string { return fmt.Sprint(err) }))
	if found.ID != h5.ID() || found.Via != routing.ViaDHT || len(found.Addrs) == 0 {
		t.Fatalf("find peer through both DHTs: %+v", found)
	}
}

func testCID(t *testing.T, s string) cid.Cid {
	t.Helper()
	sum := sha256.Sum256([]byte(s))
	h, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// The refusal is the remote node's, as on the public network: a
// PUT_VALUE of a plexus record sent over /ipfs/kad/1.0.0 is refused (the
// stream is reset, nothing is stored), while the same message over
// /plexus/kad/1.0.0 is stored and echoed.
func TestAminoServerRefusesPlexusRecords(t *testing.T) {
	mn := testnet.NewNet(t)
	srv, cli := mn.AddHost(nil), mn.AddHost(nil)
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	newRouting(t, srv, routing.WithDatastore(ds), routing.WithValidators(records.Validator(srv.Peerstore())))
	a, err := routing.NewAmino(srv, routing.WithLogger(quiet), routing.WithMode(routing.ModeServer), routing.WithDatastore(ds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if _, err := mn.ConnectPeers(cli.ID(), srv.ID()); err != nil {
		t.Fatal(err)
	}

	owner := testnet.NewKey(t)
	rec, err := records.NewRecord(owner, "hello", []byte("world"), 1, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	put := func(p protocol.ID) (*pb.Message, error) {
		s, err := cli.NewStream(t.Context(), srv.ID(), p)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		msg := pb.NewMessage(pb.Message_PUT_VALUE, []byte(rec.Key), 0)
		msg.Record = &recpb.Record{Key: []byte(rec.Key), Value: data}
		b, err := proto.Marshal(msg)
		if err != nil {
			return nil, err
		}
		// kad-dht frames each message with its length, a uvarint.
		if _, err := s.Write(append(binary.AppendUvarint(nil, uint64(len(b))), b...)); err != nil {
			return nil, err
		}
		r := bufio.NewReader(s)
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		if n > 1<<20 {
			return nil, fmt.Errorf("reply of %d bytes", n)
		}
		b = make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		var reply pb.Message
		return &reply, proto.Unmarshal(b, &reply)
	}
	stored := func(ns string) int {
		res, err := ds.Query(t.Context(), query.Query{Prefix: ns, KeysOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		all, err := res.Rest()
		if err != nil {
			t.Fatal(err)
		}
		return len(all)
	}

	if reply, err := put(routing.AminoProtocol); err == nil {
		t.Fatalf("the Amino DHT answered a plexus record's PUT_VALUE: %v", reply)
	}
	if n := stored(routing.AminoDatastoreNamespace); n != 0 {
		t.Fatalf("the Amino DHT stored %d entries", n)
	}
	reply, err := put(routing.DefaultProtocol)
	if err != nil || string(reply.GetRecord().GetValue()) != string(data) {
		t.Fatalf("the Plexus DHT refused the record: %v", err)
	}
	if n := stored(routing.DatastoreNamespace); n != 1 {
		t.Fatalf("the Plexus DHT stored %d entries, want the record", n)
	}
}
