package discovery_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	coredisc "github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/discovery"
)

func ids(infos []peer.AddrInfo) []peer.ID {
	out := make([]peer.ID, 0, len(infos))
	for _, ai := range infos {
		out = append(out, ai.ID)
	}
	slices.Sort(out)
	return out
}

func TestRendezvousMembersFindEachOtherOnly(t *testing.T) {
	const n, k, topic = 20, 5, "app-x"
	_, nodes := mockNetwork(t, n, netConfig{})
	waitRoutingTables(t, nodes, 30*time.Second)

	perm := rand.Perm(n)
	members, others := perm[:k], perm[k:]
	for _, i := range members {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		err := nodes[i].svc.Rendezvous().Join(ctx, topic)
		cancel()
		if err != nil {
			t.Fatalf("node %d join %q: %v", i, topic, err)
		}
	}
	var memberIDs []peer.ID
	for _, i := range members {
		memberIDs = append(memberIDs, nodes[i].h.ID())
	}
	slices.Sort(memberIDs)

	// Each member finds exactly the other members, with addresses.
	for _, i := range members {
		rv := nodes[i].svc.Rendezvous()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		found, err := rv.Peers(ctx, topic)
		cancel()
		if err != nil {
			t.Fatalf("node %d peers of %q: %v", i, topic, err)
		}
		want := slices.DeleteFunc(slices.Clone(memberIDs), func(p peer.ID) bool { return p == nodes[i].h.ID() })
		if got := ids(found); !slices.Equal(got, want) {
			t.Errorf("node %d found %v, want the other members %v", i, got, want)
		}
		for _, ai := range found {
			if len(ai.Addrs) == 0 {
				t.Errorf("node %d found %s without addresses", i, ai.ID)
			}
		}
		if got := rv.Topics(); !slices.Equal(got, []string{topic}) {
			t.Errorf("node %d topics = %v, want [%s]", i, got, topic)
		}
		if ev := nodes[i].pub.Of(discovery.EventRendezvousJoined); len(ev) != 1 || ev[0].Data.(discovery.RendezvousTopic).Topic != topic {
			t.Errorf("node %d rendezvous.joined events = %+v", i, ev)
		}
		// The members it found are known peers from rendezvous.
		for _, kp := range nodes[i].svc.KnownPeers() {
			if slices.Contains(want, kp.ID) && !slices.Contains(kp.Sources, discovery.SourceRendezvous) {
				t.Errorf("node %d: member %s known with sources %v, want rendezvous among them", i, kp.ID, kp.Sources)
			}
		}
	}
	// A node that did not join finds all the members and no one else.
	outsider := nodes[others[0]]
	found, err := outsider.svc.Rendezvous().Peers(t.Context(), topic)
	if err != nil {
		t.Fatalf("outsider peers of %q: %v", topic, err)
	}
	if got := ids(found); !slices.Equal(got, memberIDs) {
		t.Errorf("outsider found %v, want the members %v", got, memberIDs)
	}
	if got := outsider.svc.Rendezvous().Topics(); len(got) != 0 {
		t.Errorf("outsider topics = %v, want none", got)
	}

	// Joining twice is refused; leaving stops the membership.
	m := nodes[members[0]]
	if err := m.svc.Rendezvous().Join(t.Context(), topic); !errors.Is(err, discovery.ErrAlreadyJoined) {
		t.Errorf("second join = %v, want ErrAlreadyJoined", err)
	}
	if err := m.svc.Rendezvous().Leave(topic); err != nil {
		t.Fatalf("leave: %v", err)
	}
	if got := m.svc.Rendezvous().Topics(); len(got) != 0 {
		t.Errorf("topics after leave = %v, want none", got)
	}
	if ev := m.pub.Of(discovery.EventRendezvousLeft); len(ev) != 1 || ev[0].Data.(discovery.RendezvousTopic).Topic != topic {
		t.Errorf("rendezvous.left events = %+v", ev)
	}
	if err := m.svc.Rendezvous().Leave(topic); !errors.Is(err, discovery.ErrNotJoined) {
		t.Errorf("second leave = %v, want ErrNotJoined", err)
	}
}

func TestRendezvousServesAsLibp2pDiscovery(t *testing.T) {
	_, nodes := mockNetwork(t, 6, netConfig{})
	waitRoutingTables(t, nodes, 30*time.Second)

	// As go-libp2p-pubsub uses it: a namespace per topic, with a prefix.
	var a, b coredisc.Discovery = nodes[1].svc.Rendezvous(), nodes[4].svc.Rendezvous()
	const ns = "floodsub:chat"
	ttl, err := a.Advertise(t.Context(), ns, coredisc.TTL(time.Hour))
	if err != nil {
		t.Fatalf("advertise %q: %v", ns, err)
	}
	if ttl != time.Hour {
		t.Errorf("advertise ttl = %v, want the requested 1h", ttl)
	}
	ch, err := b.FindPeers(t.Context(), ns, coredisc.Limit(10))
	if err != nil {
		t.Fatalf("find peers %q: %v", ns, err)
	}
	var got []peer.ID
	for ai := range ch {
		got = append(got, ai.ID)
	}
	if !slices.Equal(got, []peer.ID{nodes[1].h.ID()}) {
		t.Errorf("found %v, want the advertiser %s", got, nodes[1].h.ID())
	}
	// The advertiser does not find itself.
	ch, err = a.FindPeers(t.Context(), ns)
	if err != nil {
		t.Fatalf("find peers %q from advertiser: %v", ns, err)
	}
	for ai := range ch {
		t.Errorf("advertiser found %s, want nobody", ai.ID)
	}
}

func TestRendezvousRejectsBadTopics(t *testing.T) {
	h := loopbackHost(t, nil)
	n := startNode(t, h, testDHT(t, h), nil)
	rv := n.svc.Rendezvous()
	bad := map[string]string{
		"empty":         "",
		"too long":      strings.Repeat("x", discovery.MaxTopicLen+1),
		"control char":  "app\x00x",
		"newline":       "app\nx",
		"invalid utf-8": "app\xffx",
		"bidi override": "app\u202ex",
		"escape":        "\x1b[31mapp",
		"only spaces":   "   ",
		"padded":        " app ",
	}
	for name, topic := range bad {
		t.Run(name, func(t *testing.T) {
			checks := map[string]error{
				"validate": discovery.ValidateTopic(topic),
				"join":     rv.Join(t.Context(), topic),
				"advertise": func() error {
					_, err := rv.Advertise(t.Context(), topic)
					return err
				}(),
				"find peers": func() error {
					_, err := rv.FindPeers(t.Context(), topic)
					return err
				}(),
				"peers": func() error {
					_, err := rv.Peers(t.Context(), topic)
					return err
				}(),
			}
			for op, err := range checks {
				if !errors.Is(err, discovery.ErrInvalidTopic) {
					t.Errorf("%s(%q) = %v, want ErrInvalidTopic", op, topic, err)
				}
			}
			if len(rv.Topics()) != 0 {
				t.Errorf("topics = %v after a refused join", rv.Topics())
			}
		})
	}
	good := []string{"a", "app-x", "chat room/ünïcode", strings.Repeat("x", discovery.MaxTopicLen)}
	for _, topic := range good {
		if err := discovery.ValidateTopic(topic); err != nil {
			t.Errorf("ValidateTopic(%.20q…) = %v, want nil", topic, err)
		}
	}
	// A valid topic on a node with no peers fails to advertise, with the
	// topic in the error, and is not left joined.
	err := rv.Join(t.Context(), "lonely")
	if err == nil || !strings.Contains(err.Error(), `"lonely"`) {
		t.Errorf("join on an isolated node = %v, want an error naming the topic", err)
	}
	if len(rv.Topics()) != 0 {
		t.Errorf("topics = %v after a failed join", rv.Topics())
	}
	if err := n.svc.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := rv.Join(t.Context(), "app-x"); !errors.Is(err, discovery.ErrClosed) {
		t.Errorf("join after close = %v, want ErrClosed", err)
	}
	if err := n.svc.Close(); err != nil {
		t.Errorf("second close = %v, want nil", err)
	}
}
