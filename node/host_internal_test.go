package node

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
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
