package acl_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/acl"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }

func newStore() datastore.Batching { return dssync.MutexWrap(datastore.NewMapDatastore()) }

func newList(t *testing.T, ds datastore.Datastore, o acl.Options) *acl.List {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testnet.Quiet
	}
	l, err := acl.New(t.Context(), ds, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func id(t *testing.T) peer.ID {
	t.Helper()
	p, err := peer.IDFromPrivateKey(testnet.NewKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRules(t *testing.T) {
	self, a, b, boot := id(t), id(t), id(t), id(t)
	ev := &events.Recorder{}
	l := newList(t, newStore(), acl.Options{Self: self, Implicit: map[peer.ID]string{boot: "bootstrap peer"}, Events: ev})
	ctx := t.Context()

	// Empty lists admit everyone.
	for _, p := range []peer.ID{a, b, boot} {
		if err := l.Check(p); err != nil {
			t.Fatalf("empty lists refuse %s: %v", p, err)
		}
	}
	// A denied peer is refused, others still admitted.
	ch, err := l.Deny(ctx, a)
	if err != nil || ch.List != acl.Deny || ch.Previous != "" {
		t.Fatalf("deny: %+v, %v", ch, err)
	}
	if err := l.Check(a); !errors.Is(err, acl.ErrDenied) || !strings.Contains(err.Error(), a.String()+" is on this node's denylist") {
		t.Fatalf("denied peer: %v", err)
	}
	if err := l.Check(b); err != nil {
		t.Fatalf("b refused while only a is denied: %v", err)
	}
	// Allowing b activates the allowlist: only b and the implicit peer.
	if _, err := l.Allow(ctx, b); err != nil {
		t.Fatal(err)
	}
	other := id(t)
	if err := l.Check(other); !errors.Is(err, acl.ErrNotAllowed) || !strings.Contains(err.Error(), "not on this node's allowlist") {
		t.Fatalf("peer off an active allowlist: %v", err)
	}
	if err := l.Check(b); err != nil {
		t.Fatalf("allowed peer refused: %v", err)
	}
	if err := l.Check(boot); err != nil {
		t.Fatalf("bootstrap peer refused by the allowlist: %v", err)
	}
	// Deny wins over implicit admission.
	if _, err := l.Deny(ctx, boot); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(boot); !errors.Is(err, acl.ErrDenied) {
		t.Fatalf("denied bootstrap peer: %v", err)
	}
	// Allowing a denied peer moves it; allowing twice changes nothing.
	ch, err = l.Allow(ctx, a)
	if err != nil || ch.List != acl.Allow || ch.Previous != acl.Deny {
		t.Fatalf("allow a denied peer: %+v, %v", ch, err)
	}
	if err := l.Check(a); err != nil {
		t.Fatalf("moved peer refused: %v", err)
	}
	ch, err = l.Allow(ctx, a)
	if err != nil || ch.List != acl.Allow || ch.Previous != acl.Allow {
		t.Fatalf("allow again: %+v, %v", ch, err)
	}
	// Removing the last allowed peers deactivates the allowlist.
	for _, p := range []peer.ID{a, b} {
		if ch, err := l.Remove(ctx, p); err != nil || ch.List != "" || ch.Previous != acl.Allow {
			t.Fatalf("remove %s: %+v, %v", p, ch, err)
		}
	}
	if err := l.Check(other); err != nil {
		t.Fatalf("empty allowlist still refuses: %v", err)
	}
	if _, err := l.Remove(ctx, other); !errors.Is(err, acl.ErrNotListed) {
		t.Fatalf("remove an unlisted peer: %v", err)
	}
	// Bad input.
	for _, p := range []peer.ID{"", self} {
		if _, err := l.Deny(ctx, p); !errors.Is(err, acl.ErrInvalidPeer) {
			t.Fatalf("deny %q: %v", p, err)
		}
		if _, err := l.Allow(ctx, p); !errors.Is(err, acl.ErrInvalidPeer) {
			t.Fatalf("allow %q: %v", p, err)
		}
	}

	s := l.Snapshot()
	if s.AllowlistActive || len(s.Allowed) != 0 || len(s.Denied) != 1 || s.Denied[0].Peer != boot || s.Denied[0].Added.IsZero() {
		t.Fatalf("snapshot %+v", s)
	}
	if len(s.Implicit) != 1 || s.Implicit[0] != (acl.Implicit{Peer: boot, Reason: "bootstrap peer"}) {
		t.Fatalf("implicit %+v", s.Implicit)
	}
	// Deny a, allow b, deny boot, allow a (a move), remove a, remove b: six
	// changes; the repeated allow changed nothing and published nothing.
	if n := len(ev.Of("acl.changed")); n != 6 {
		t.Fatalf("%d acl.changed events, want 6", n)
	}
}

func TestPersistence(t *testing.T) {
	ds := newStore()
	a, b := id(t), id(t)
	l := newList(t, ds, acl.Options{})
	ctx := t.Context()
	l.Allow(ctx, a)
	l.Deny(ctx, b)
	before := l.Snapshot()
	l.Close()

	again := newList(t, ds, acl.Options{})
	after := again.Snapshot()
	if !after.AllowlistActive || len(after.Allowed) != 1 || after.Allowed[0].Peer != a || len(after.Denied) != 1 || after.Denied[0].Peer != b {
		t.Fatalf("reloaded %+v", after)
	}
	if !after.Allowed[0].Added.Equal(before.Allowed[0].Added) {
		t.Fatalf("added time %v, saved %v", after.Allowed[0].Added, before.Allowed[0].Added)
	}
	if err := again.Check(b); !errors.Is(err, acl.ErrDenied) {
		t.Fatalf("reloaded denylist: %v", err)
	}
}

// A crash between the two writes of a move leaves the peer on both lists:
// the list it joined last wins and the other entry is removed.
func TestLoadRepairsAHalfMove(t *testing.T) {
	ds := newStore()
	ctx := t.Context()
	p := id(t)
	early, _ := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).MarshalText()
	late, _ := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC).MarshalText()
	allowKey := datastore.NewKey(acl.Namespace + "/allow/" + p.String())
	denyKey := datastore.NewKey(acl.Namespace + "/deny/" + p.String())
	ds.Put(ctx, allowKey, early)
	ds.Put(ctx, denyKey, late)
	ds.Put(ctx, datastore.NewKey(acl.Namespace+"/deny/not-a-peer"), late)

	l := newList(t, ds, acl.Options{})
	if err := l.Check(p); !errors.Is(err, acl.ErrDenied) {
		t.Fatalf("half-moved peer: %v", err)
	}
	if ok, _ := ds.Has(ctx, allowKey); ok {
		t.Fatal("the stale allowlist entry is still stored")
	}
	if s := l.Snapshot(); len(s.Denied) != 1 || len(s.Allowed) != 0 {
		t.Fatalf("snapshot %+v (the malformed key must be ignored)", s)
	}
}

func TestConcurrentChangesAndChecks(t *testing.T) {
	l := newList(t, newStore(), acl.Options{})
	peers := make([]peer.ID, 8)
	for i := range peers {
		peers[i] = id(t)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, p := range peers {
				l.Check(p)
				l.InterceptPeerDial(p)
			}
		}
	}()
	for i := range 200 {
		p := peers[i%len(peers)]
		switch i % 3 {
		case 0:
			l.Allow(ctx, p)
		case 1:
			l.Deny(ctx, p)
		default:
			l.Remove(ctx, p)
		}
	}
	cancel()
	<-done
	s := l.Snapshot()
	for _, e := range s.Allowed {
		if slices.ContainsFunc(s.Denied, func(d acl.Entry) bool { return d.Peer == e.Peer }) {
			t.Fatalf("%s is on both lists", e.Peer)
		}
	}
}
