package node

import (
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"

	"github.com/plexus-p2p/plexus/config"
)

// The resource manager must admit at least the connection manager's high
// water mark of inbound connections, or the connection manager never trims
// and a full node refuses every new peer.
func TestResourceLimitsCoverHighWater(t *testing.T) {
	for _, hw := range []int{400, 2000} {
		rm, err := newResourceManager(config.ResourceManager{}, hw, nil)
		if err != nil {
			t.Fatal(err)
		}
		var sys rcmgr.ResourceLimits
		rm.ViewSystem(func(s network.ResourceScope) error {
			l := s.(interface{ Limit() rcmgr.Limit }).Limit()
			sys.ConnsInbound = rcmgr.LimitVal(l.GetConnLimit(network.DirInbound))
			return nil
		})
		rm.Close()
		if int(sys.ConnsInbound) < hw {
			t.Fatalf("high water %d: inbound limit %d", hw, sys.ConnsInbound)
		}
	}
	// An explicit setting wins.
	rm, err := newResourceManager(config.ResourceManager{MaxInbound: 50}, 2000, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	rm.ViewSystem(func(s network.ResourceScope) error {
		if got := s.(interface{ Limit() rcmgr.Limit }).Limit().GetConnLimit(network.DirInbound); got != 50 {
			t.Errorf("explicit max_inbound_connections ignored: %d", got)
		}
		return nil
	})
}

// Issue 20 row 1: the per-peer stream settings reach the resource manager's
// peer and protocol-peer scopes, and the transient scope has room for 16
// peers at their pending limit.
func TestResourceManagerStreamLimits(t *testing.T) {
	rm, err := newResourceManager(config.ResourceManager{MaxMemoryMB: 128, MaxPendingStreamsPerPeer: 40,
		MaxStreamsPerPeer: 100, MaxStreamsPerProtocolPerPeer: 10}, 400, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	limitOf := func(s network.ResourceScope) int {
		return s.(interface{ Limit() rcmgr.Limit }).Limit().GetStreamLimit(network.DirInbound)
	}
	rm.ViewTransient(func(s network.ResourceScope) error {
		if got := limitOf(s); got < 16*40 {
			t.Errorf("transient inbound streams %d, want at least %d", got, 16*40)
		}
		return nil
	})
	p := peer.ID("some peer")
	rm.ViewPeer(p, func(s network.PeerScope) error {
		if got := limitOf(s); got != 100 {
			t.Errorf("peer inbound streams %d, want 100", got)
		}
		return nil
	})
	// The protocol-peer limit applies when a peer's streams join the
	// protocol.
	if got := rm.(*pendingStreamLimiter).limit; got != 40 {
		t.Errorf("pending limit %d, want 40", got)
	}
	var streams []network.StreamManagementScope
	for range 10 {
		s, err := rm.OpenStream(p, network.DirInbound)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetProtocol("/app/x/1"); err != nil {
			t.Fatalf("stream within the per-protocol limit: %v", err)
		}
		streams = append(streams, s)
	}
	s, err := rm.OpenStream(p, network.DirInbound)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetProtocol("/app/x/1"); !errors.Is(err, network.ErrResourceLimitExceeded) {
		t.Errorf("11th stream of one peer on one protocol: %v, want a resource limit error", err)
	}
	s.Done()
	for _, s := range streams {
		s.Done()
	}
	if n := rm.(*pendingStreamLimiter).Pending(p); n != 0 {
		t.Errorf("%d streams still counted as pending after they ended", n)
	}
}
