package node

import (
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	ma "github.com/multiformats/go-multiaddr"
)

// Event payloads published by the node (typed; the API turns them into
// wire types for the event stream).
type (
	// PeerEvent is the data of peer.connected and peer.disconnected.
	PeerEvent struct {
		Peer      peer.ID
		Addr      ma.Multiaddr // nil for peer.disconnected
		Direction network.Direction
		Transport string
	}
	// IdentifiedEvent is the data of peer.identified.
	IdentifiedEvent struct {
		Peer         peer.ID
		AgentVersion string
		Protocols    []protocol.ID
		Addrs        []ma.Multiaddr
	}
	// AddrsEvent is the data of addrs.updated.
	AddrsEvent struct {
		Addrs, Added, Removed []ma.Multiaddr
	}
	// StartedEvent is the data of node.started.
	StartedEvent struct {
		Peer peer.ID
	}
)

// watch turns libp2p's host events into logs and events on the bus (the
// routing table's changes are published by package routing). Its goroutine
// stops with n.ctx.
func (n *Node) watch() {
	sub, err := n.host.EventBus().Subscribe([]any{
		new(event.EvtPeerConnectednessChanged),
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtLocalAddressesUpdated),
	}, eventbus.BufSize(256))
	if err != nil {
		n.log.Error("subscribe to host events", "err", err)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer sub.Close()
		for {
			select {
			case <-n.ctx.Done():
				return
			case e := <-sub.Out():
				n.handleHostEvent(e)
			}
		}
	}()
}

func (n *Node) handleHostEvent(e any) {
	switch e := e.(type) {
	case event.EvtPeerConnectednessChanged:
		ev := PeerEvent{Peer: e.Peer}
		switch e.Connectedness {
		case network.Connected:
			if conns := n.host.Network().ConnsToPeer(e.Peer); len(conns) > 0 {
				c := conns[0]
				ev.Addr = c.RemoteMultiaddr()
				ev.Direction = c.Stat().Direction
				ev.Transport = transportOf(c.RemoteMultiaddr())
			}
			n.log.Info("peer connected", "peer", e.Peer, "addr", ev.Addr, "direction", ev.Direction)
			n.bus.Publish("peer.connected", ev)
		case network.NotConnected:
			n.log.Info("peer disconnected", "peer", e.Peer)
			n.bus.Publish("peer.disconnected", ev)
		}
	case event.EvtPeerIdentificationCompleted:
		n.log.Debug("peer identified", "peer", e.Peer, "agent", e.AgentVersion)
		n.bus.Publish("peer.identified", IdentifiedEvent{
			Peer: e.Peer, AgentVersion: e.AgentVersion, Protocols: e.Protocols, Addrs: e.ListenAddrs,
		})
	case event.EvtLocalAddressesUpdated:
		ev := AddrsEvent{Addrs: n.host.Addrs()}
		for _, a := range e.Current {
			if a.Action == event.Added {
				ev.Added = append(ev.Added, a.Address)
			}
		}
		for _, a := range e.Removed {
			ev.Removed = append(ev.Removed, a.Address)
		}
		n.log.Info("listen addresses updated", "addrs", ev.Addrs)
		n.bus.Publish("addrs.updated", ev)
	}
}
