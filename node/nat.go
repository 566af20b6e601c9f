package node

import (
	"fmt"
	"time"

	coreconnmgr "github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/nat"
)

// natConfig translates the config file's NAT section (validated already)
// for package nat.
func natConfig(c config.NAT) nat.Config {
	res := nat.DefaultRelayResources()
	res.MaxReservations = c.RelayMaxReservations
	res.MaxReservationsPerIP = c.RelayMaxPerIP
	res.MaxCircuits = c.RelayMaxCircuits
	res.ReservationTTL = time.Duration(c.RelayReservationTTL)
	res.Limit.Duration, res.Limit.Data = time.Duration(c.RelayCircuitDuration), int64(c.RelayCircuitDataBytes)
	// One entry per relay, with every configured address of it.
	var static []peer.AddrInfo
	index := map[peer.ID]int{}
	for _, s := range c.StaticRelays {
		ai, err := config.ParsePeerAddr(s)
		if err != nil { // validated already
			continue
		}
		if i, ok := index[ai.ID]; ok {
			static[i].Addrs = append(static[i].Addrs, ai.Addrs...)
			continue
		}
		index[ai.ID] = len(static)
		static = append(static, ai)
	}
	return nat.Config{
		Reachability:   c.Reachability,
		PortMapping:    c.PortMapping,
		AutoNATService: c.AutoNATService,
		AutoNATv2:      c.AutoNATv2,
		HolePunching:   c.HolePunching,
		RelayService:   c.RelayService,
		RelayResources: res,
		AutoRelay:      c.AutoRelay,
		StaticRelays:   static,
		RelayCount:     c.RelayCount,
		BirthdayPunch:  c.BirthdayPunch,
	}
}

// startNAT starts the NAT service New created with the host's options,
// now that the host and the DHT exist.
func (n *Node) startNAT() error {
	if err := n.nat.Start(n.host, n.routing.Closest); err != nil {
		return fmt.Errorf("start NAT service: %w", err)
	}
	n.addCloser(n.nat.Close)
	return nil
}

// NAT returns the NAT traversal service: reachability, relay reservations,
// hole punching and the connectivity doctor (Status).
func (n *Node) NAT() *nat.Service { return n.nat }

// natDialGater puts the NAT service's address check (issue 19, case 4: no
// dials to the LAN or loopback address of a peer reached only through a
// relay) in front of the access lists.
type natDialGater struct {
	coreconnmgr.ConnectionGater
	nat *nat.Service
}

func (g natDialGater) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	return g.nat.AllowAddrDial(p, a) && g.ConnectionGater.InterceptAddrDial(p, a)
}
