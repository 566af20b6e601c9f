package node

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/nat"
)

// natConfig translates the config file's NAT section for package nat.
func natConfig(cfg config.Config) nat.Config {
	c := cfg.NAT
	res := relayv2.DefaultResources()
	res.MaxReservations = c.RelayMaxReservations
	res.MaxReservationsPerIP = c.RelayMaxPerIP
	res.MaxCircuits = c.RelayMaxCircuits
	res.ReservationTTL = time.Duration(c.RelayReservationTTL)
	res.Limit = &relayv2.RelayLimit{Duration: time.Duration(c.RelayCircuitDuration), Data: int64(c.RelayCircuitDataBytes)}
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
	}
}

// natHostOptions returns the libp2p options for NAT traversal.
func natHostOptions(cfg config.Config) []libp2p.Option {
	return nat.HostOptions(natConfig(cfg))
}

// startNAT starts the node's NAT service (reachability, relays, hole
// punching, port mapping and the doctor) after the host exists.
func (n *Node) startNAT() error {
	svc, err := nat.New(n.host, nat.Options{
		Config:       natConfig(n.cfg.Config),
		Logger:       n.cfg.Logger,
		Events:       n.bus,
		Metrics:      n.reg,
		ClosestPeers: n.routing.Closest,
	})
	if err != nil {
		return fmt.Errorf("start NAT service: %w", err)
	}
	n.addCloser(svc.Close)
	if err := svc.Start(); err != nil {
		return fmt.Errorf("start NAT service: %w", err)
	}
	n.nat = svc
	return nil
}

// NAT returns the NAT traversal service: reachability, relay reservations,
// hole punching and the connectivity doctor (Status).
func (n *Node) NAT() *nat.Service { return n.nat }

// NATStatus returns the connectivity doctor's report.
func (n *Node) NATStatus() nat.Status { return n.nat.Status() }
