package node

import (
	"strings"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
)

// Event payloads published by the node.
type (
	// PeerEvent is the data of peer.connected and peer.disconnected.
	PeerEvent struct {
		PeerID    string `json:"peer_id"`
		Addr      string `json:"addr,omitempty"`
		Direction string `json:"direction,omitempty"`
		Transport string `json:"transport,omitempty"`
	}
	// IdentifiedEvent is the data of peer.identified.
	IdentifiedEvent struct {
		PeerID       string   `json:"peer_id"`
		AgentVersion string   `json:"agent_version"`
		Protocols    []string `json:"protocols"`
		Addrs        []string `json:"addrs"`
	}
	// AddrsEvent is the data of addrs.updated.
	AddrsEvent struct {
		Addrs   []string `json:"addrs"`
		Added   []string `json:"added,omitempty"`
		Removed []string `json:"removed,omitempty"`
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
		ev := PeerEvent{PeerID: e.Peer.String()}
		switch e.Connectedness {
		case network.Connected:
			if conns := n.host.Network().ConnsToPeer(e.Peer); len(conns) > 0 {
				c := conns[0]
				ev.Addr = c.RemoteMultiaddr().String()
				ev.Direction = strings.ToLower(c.Stat().Direction.String())
				ev.Transport = transportOf(c.RemoteMultiaddr())
			}
			n.log.Info("peer connected", "peer", e.Peer, "addr", ev.Addr, "direction", ev.Direction)
			n.bus.Publish("peer.connected", ev)
		case network.NotConnected:
			n.log.Info("peer disconnected", "peer", e.Peer)
			n.bus.Publish("peer.disconnected", ev)
		}
	case event.EvtPeerIdentificationCompleted:
		protos := make([]string, len(e.Protocols))
		for i, p := range e.Protocols {
			protos[i] = string(p)
		}
		n.log.Debug("peer identified", "peer", e.Peer, "agent", e.AgentVersion)
		n.bus.Publish("peer.identified", IdentifiedEvent{
			PeerID: e.Peer.String(), AgentVersion: e.AgentVersion, Protocols: protos, Addrs: strs(e.ListenAddrs),
		})
	case event.EvtLocalAddressesUpdated:
		ev := AddrsEvent{Addrs: strs(n.host.Addrs())}
		for _, a := range e.Current {
			if a.Action == event.Added {
				ev.Added = append(ev.Added, a.Address.String())
			}
		}
		for _, a := range e.Removed {
			ev.Removed = append(ev.Removed, a.Address.String())
		}
		n.log.Info("listen addresses updated", "addrs", ev.Addrs)
		n.bus.Publish("addrs.updated", ev)
	}
}
