package nat

import (
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Event types this package publishes, with the type of their data.
const (
	EventReachability      = "nat.reachability"        // ReachabilityEvent
	EventAddrsReachability = "nat.addrs_reachability"  // AddrsReachabilityEvent
	EventType              = "nat.type"                // NATTypeEvent
	EventPortMapping       = "nat.port_mapping"        // PortMappingEvent
	EventRelayReserved     = "nat.relay.reserved"      // RelayEvent
	EventRelayRenewed      = "nat.relay.renewed"       // RelayEvent
	EventRelayLost         = "nat.relay.lost"          // RelayEvent
	EventHolePunchStarted  = "nat.holepunch.started"   // HolePunchStarted
	EventHolePunchFinished = "nat.holepunch.finished"  // HolePunchResult
	EventUpgraded          = "nat.connection.upgraded" // UpgradeEvent
)

// Event payloads (besides HolePunchResult, which is also part of Status).
type (
	// ReachabilityEvent is the data of nat.reachability.
	ReachabilityEvent struct {
		ReachabilityChange
		Confidence *int // AutoNAT v1's confidence; nil when unknown or forced
	}
	// AddrsReachabilityEvent is the data of nat.addrs_reachability (AutoNAT v2).
	AddrsReachabilityEvent struct {
		Reachable, Unreachable, Unknown []ma.Multiaddr
	}
	// NATTypeEvent is the data of nat.type (go-libp2p's NAT type detection).
	NATTypeEvent struct {
		Transport string // "tcp" or "udp"
		Type      string // Mapping* constants
	}
	// PortMappingEvent is the data of nat.port_mapping.
	PortMappingEvent struct {
		Mappings []PortMappingEntry
	}
	// RelayEvent is the data of nat.relay.reserved, nat.relay.renewed and nat.relay.lost.
	RelayEvent struct {
		Relay          peer.ID
		Addrs          []ma.Multiaddr
		Expires        time.Time     // zero when unknown
		LimitDuration  time.Duration // per relayed connection; 0: none or unknown
		LimitDataBytes uint64        // per relayed connection and direction; 0: none or unknown
		Error          string        // why details are missing
	}
	// HolePunchStarted is the data of nat.holepunch.started.
	HolePunchStarted struct {
		PeerID      peer.ID
		RemoteAddrs []ma.Multiaddr // the addresses punched towards
		RTT         time.Duration  // relayed round trip measured by DCUtR
	}
	// UpgradeEvent is the data of nat.connection.upgraded: a peer reached
	// through a relay now has a direct connection.
	UpgradeEvent struct {
		PeerID     peer.ID
		DirectAddr ma.Multiaddr
		Transport  string
		Direction  network.Direction
		RelayedAt  time.Time
		Elapsed    time.Duration // from the relayed connection to the direct one
	}
)
