package node

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/acl"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/nat"
)

// newACL loads the peer allowlist and denylist from the datastore. The
// configured bootstrap peers and static relays are admitted while the
// allowlist is active: without them the node could neither join its network
// nor be reached through a relay.
func (n *Node) newACL(ctx context.Context) error {
	self, err := peer.IDFromPrivateKey(n.cfg.Identity)
	if err != nil {
		return fmt.Errorf("node: identity: %w", err)
	}
	implicit := map[peer.ID]string{}
	for _, list := range []struct {
		addrs  []string
		reason string
	}{{n.cfg.NAT.StaticRelays, "static relay (nat.static_relays)"}, {n.cfg.Network.Bootstrap, "bootstrap peer (network.bootstrap)"}} {
		for _, s := range list.addrs {
			if ai, err := config.ParsePeerAddr(s); err == nil { // validated already
				implicit[ai.ID] = list.reason
			}
		}
	}
	l, err := acl.New(ctx, n.ds, acl.Options{Self: self, Implicit: implicit, Logger: n.cfg.Logger, Events: n.bus})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.acl = l
	return nil
}

// ACL returns the peer allowlist and denylist: Allow, Deny and Remove take
// effect at once (a denied peer is disconnected) and persist.
func (n *Node) ACL() *acl.List { return n.acl }

// privateStatus is the private network and access list part of the
// connectivity doctor's report.
func (n *Node) privateStatus() nat.Private {
	p := nat.Private{Enabled: n.private.Enabled, Fingerprint: n.private.Fingerprint,
		DisabledTransports: append([]string{}, n.private.DisabledTransports...)}
	if n.acl != nil {
		s := n.acl.Snapshot()
		p.AllowlistActive, p.Allowed, p.Denied = s.AllowlistActive, len(s.Allowed), len(s.Denied)
		p.RefusedInbound, p.RefusedOutbound = s.RefusedInbound, s.RefusedOutbound
	}
	return p
}
