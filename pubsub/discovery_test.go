package pubsub_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/pubsub"
)

// rendezvous is an in-memory stand-in for DHT rendezvous: namespaces map to
// the peers that advertised them.
type rendezvous struct {
	mu sync.Mutex
	ns map[string]map[peer.ID]peer.AddrInfo
}

// discoverer is one host's view of a rendezvous.
type discoverer struct {
	r *rendezvous
	h host.Host
}

func (d discoverer) Advertise(_ context.Context, ns string, _ ...discovery.Option) (time.Duration, error) {
	d.r.mu.Lock()
	defer d.r.mu.Unlock()
	if d.r.ns[ns] == nil {
		d.r.ns[ns] = make(map[peer.ID]peer.AddrInfo)
	}
	d.r.ns[ns][d.h.ID()] = peer.AddrInfo{ID: d.h.ID(), Addrs: d.h.Addrs()}
	return time.Hour, nil
}

func (d discoverer) FindPeers(_ context.Context, ns string, _ ...discovery.Option) (<-chan peer.AddrInfo, error) {
	d.r.mu.Lock()
	defer d.r.mu.Unlock()
	ch := make(chan peer.AddrInfo, len(d.r.ns[ns]))
	for id, ai := range d.r.ns[ns] {
		if id != d.h.ID() {
			ch <- ai
		}
	}
	close(ch)
	return ch, nil
}

// Two nodes that can reach each other but are not connected find each other
// through the discovery hook and exchange messages.
func TestDiscoveryFindsTopicPeers(t *testing.T) {
	mn := testnet.NewNet(t)
	hosts := mn.AddHosts(2)
	if _, err := mn.LinkPeers(hosts[0].ID(), hosts[1].ID()); err != nil {
		t.Fatal(err)
	}
	r := &rendezvous{ns: map[string]map[peer.ID]peer.AddrInfo{}}
	a := newService(t, hosts[0], pubsub.WithDiscovery(discoverer{r, hosts[0]}))
	b := newService(t, hosts[1], pubsub.WithDiscovery(discoverer{r, hosts[1]}))
	sub, err := b.Subscribe("found", 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Join("found"); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		return hosts[0].Network().Connectedness(hosts[1].ID()) == network.Connected &&
			slices.Contains(a.Peers("found"), hosts[1].ID())
	}, "a to find b on the topic")
	res, err := a.Publish(t.Context(), "found", []byte("hello, stranger"))
	if err != nil {
		t.Fatal(err)
	}
	if res.NoPeers {
		t.Errorf("result %+v", res)
	}
	if m := receive(t, sub, 5*time.Second); string(m.Data) != "hello, stranger" {
		t.Errorf("got %q", m.Data)
	}
}
