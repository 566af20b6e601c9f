package wire

import "time"

// NATStatus is the connectivity doctor's report (GET /v1/nat, "plexus nat
// status"). Durations are milliseconds in fields ending _ms.
type NATStatus struct {
	PeerID string    `json:"peer_id"`
	Since  time.Time `json:"since"` // when the NAT service started; counters count from here

	Reachability           string                  `json:"reachability"`             // "public", "private" or "unknown"
	ReachabilitySource     string                  `json:"reachability_source"`      // "autonat-v1" or "config"
	ReachabilitySourceText string                  `json:"reachability_source_text"` // the source for people: "set by nat.reachability", "AutoNAT, confidence 3/3"
	Confidence             *int                    `json:"confidence,omitempty"`     // AutoNAT v1's confidence, 0..3
	ReachabilitySince      time.Time               `json:"reachability_since"`
	ReachabilityHistory    []NATReachabilityChange `json:"reachability_history"`
	Addrs                  []NATAddrStatus         `json:"addrs"`          // per address
	ObservedAddrs          []NATObservedAddr       `json:"observed_addrs"` // what peers see, per observer
	NATMapping             []NATMapping            `json:"nat_mapping"`    // per transport, when it can be inferred

	PortMapping  NATPortMapping     `json:"port_mapping"`
	RelayService NATRelayService    `json:"relay_service"`
	RelayClient  NATRelayClient     `json:"relay_client"`
	HolePunch    NATHolePunchStatus `json:"hole_punch"`
	Connections  NATConnections     `json:"connections"`
	Private      NATPrivate         `json:"private_network"`

	Advice []NATAdvice `json:"advice"`
}

// NATReachabilityChange is one change of the node's reachability.
type NATReachabilityChange struct {
	Time         time.Time `json:"time"`
	Reachability string    `json:"reachability"`
	Previous     string    `json:"previous"`
	Source       string    `json:"source"`
}

// NATAddrStatus is the reachability of one address of the node.
type NATAddrStatus struct {
	Addr         string `json:"addr"`
	Reachability string `json:"reachability"` // "public", "unreachable", "unknown", "private" or "relayed"
	Source       string `json:"source"`       // "autonat-v2", "autonat-v1", "config", "address range", "relay"
	Advertised   bool   `json:"advertised"`   // announced to peers (identify, DHT)
}

// NATObservedAddr is the address one peer saw a connection from this node come from.
type NATObservedAddr struct {
	Addr     string    `json:"addr"`     // /ip4/<ip>/<tcp|udp>/<port>
	Local    string    `json:"local"`    // the local socket, e.g. "tcp/4001"
	Observer string    `json:"observer"` // the observing peer's IP
	PeerID   string    `json:"peer_id"`
	At       time.Time `json:"at"`
}

// NATMapping is the NAT's mapping behaviour for one transport.
type NATMapping struct {
	Transport      string `json:"transport"`        // "tcp" or "udp"
	Behaviour      string `json:"behaviour"`        // "none", "endpoint-independent", "endpoint-dependent", "unknown"
	PortPreserving string `json:"port_preserving"`  // "yes", "no", "sometimes", "unknown"
	Observers      int    `json:"observers"`        // distinct observer IPs
	Basis          string `json:"basis"`            // what the verdict rests on
	Libp2p         string `json:"libp2p,omitempty"` // go-libp2p's own verdict (needs many observers)
}

// NATPortMapping is the UPnP / NAT-PMP state.
type NATPortMapping struct {
	Enabled      bool                  `json:"enabled"`
	GatewayFound bool                  `json:"gateway_found"`
	Mappings     []NATPortMappingEntry `json:"mappings"`
}

// NATPortMappingEntry maps a listen address to the router's external one.
type NATPortMappingEntry struct {
	Listen   string `json:"listen"`
	External string `json:"external"`
}

// NATRelayService is the state of this node's circuit relay v2 service.
type NATRelayService struct {
	Enabled              bool    `json:"enabled"` // configured
	Running              bool    `json:"running"` // serving now (only while public)
	MaxReservations      int     `json:"max_reservations"`
	MaxReservationsPerIP int     `json:"max_reservations_per_ip"`
	MaxCircuits          int     `json:"max_circuits"`
	ReservationTTLMS     float64 `json:"reservation_ttl_ms"`
	CircuitDurationMS    float64 `json:"circuit_duration_ms"` // 0: no limit
	CircuitDataBytes     int64   `json:"circuit_data_bytes"`  // 0: no limit
}

// NATRelayClient is the state of AutoRelay.
type NATRelayClient struct {
	AutoRelay    bool             `json:"auto_relay"`
	StaticRelays []string         `json:"static_relays"` // full multiaddrs ending in /p2p/<relay peer ID>
	Wanted       int              `json:"wanted"`        // reservations AutoRelay keeps while private
	KnownRelays  int              `json:"known_relays"`  // peers known to offer the relay service
	Reservations []NATReservation `json:"reservations"`
}

// NATReservation is a slot this node holds on a relay.
type NATReservation struct {
	Relay           string     `json:"relay"`
	Addrs           []string   `json:"addrs"` // the /p2p-circuit addresses it gives this node
	Since           time.Time  `json:"since"`
	Expires         *time.Time `json:"expires,omitempty"` // renewed by AutoRelay before then
	LimitDurationMS float64    `json:"limit_duration_ms"` // per relayed connection; 0: none
	LimitDataBytes  uint64     `json:"limit_data_bytes"`  // per relayed connection and direction; 0: none
	Renewals        int        `json:"renewals"`
	Error           string     `json:"error,omitempty"` // why details are missing
}

// NATHolePunchStatus counts DCUtR since start.
type NATHolePunchStatus struct {
	Enabled             bool                 `json:"enabled"`
	Ready               bool                 `json:"ready"`        // the DCUtR handler runs: the node knows a public address of its own
	Attempts            int                  `json:"attempts"`     // hole punch rounds finished, as initiator or responder
	Successes           int                  `json:"successes"`    // rounds that ended with a direct connection
	SuccessRate         float64              `json:"success_rate"` // successes / attempts (0 without attempts)
	DirectDials         int                  `json:"direct_dials"` // direct dials tried before punching
	DirectDialSuccesses int                  `json:"direct_dial_successes"`
	ProtocolErrors      int                  `json:"protocol_errors"`
	Upgrades            int                  `json:"upgrades"`          // relayed peers that gained a direct connection
	MedianUpgradeMS     float64              `json:"median_upgrade_ms"` // relayed connection to direct connection
	Recent              []NATHolePunchResult `json:"recent"`
	RecentUpgrades      []NATUpgradeEvent    `json:"recent_upgrades"`
	Birthday            NATBirthdayStatus    `json:"birthday"` // birthday hole punching, not counted above
}

// NATBirthdayStatus counts birthday hole punches (QUIC, between Plexus
// nodes, when one NAT is endpoint-dependent) since start.
type NATBirthdayStatus struct {
	Enabled   bool `json:"enabled"`
	Attempts  int  `json:"attempts"` // sessions that probed, or ended with a reason (both NATs symmetric)
	Successes int  `json:"successes"`
}

// NATHolePunchResult is one finished attempt; also the data of the
// nat.holepunch.finished event.
type NATHolePunchResult struct {
	Time        time.Time `json:"time"`
	PeerID      string    `json:"peer_id"`
	Kind        string    `json:"kind"` // "hole-punch", "direct-dial", "protocol-error" or "birthday-punch"
	Success     bool      `json:"success"`
	ElapsedMS   float64   `json:"elapsed_ms"`
	RTTMS       float64   `json:"rtt_ms,omitempty"`       // relayed round trip measured by DCUtR
	RemoteAddrs []string  `json:"remote_addrs,omitempty"` // the addresses punched towards
	DirectAddr  string    `json:"direct_addr,omitempty"`  // on success
	Transport   string    `json:"transport,omitempty"`    // of the direct connection
	Error       string    `json:"error,omitempty"`
}

// NATConnections summarises open connections by path.
type NATConnections struct {
	DirectPeers  int              `json:"direct_peers"`
	RelayedPeers int              `json:"relayed_peers"` // peers reached only through a relay
	RelayedOnly  []NATRelayedPeer `json:"relayed_only"`
}

// NATRelayedPeer is a peer reached only through a relay, and why.
type NATRelayedPeer struct {
	PeerID        string              `json:"peer_id"`
	Addr          string              `json:"addr"`
	Since         time.Time           `json:"since"`
	LastHolePunch *NATHolePunchResult `json:"last_hole_punch,omitempty"`
	Reason        string              `json:"reason"` // why there is no direct connection
}

// NATAdvice is one finding of the doctor.
type NATAdvice struct {
	Level   string `json:"level"` // "ok", "info" or "warn"
	Topic   string `json:"topic"` // "reachability", "relay", "hole-punching", "port-mapping", "nat"
	Message string `json:"message"`
}

// Event payloads of the nat.* events.
type (
	// NATReachabilityEvent is the data of nat.reachability.
	NATReachabilityEvent struct {
		NATReachabilityChange
		Confidence *int `json:"confidence,omitempty"`
	}
	// NATAddrsReachabilityEvent is the data of nat.addrs_reachability (AutoNAT v2).
	NATAddrsReachabilityEvent struct {
		Reachable   []string `json:"reachable"`
		Unreachable []string `json:"unreachable"`
		Unknown     []string `json:"unknown"`
	}
	// NATTypeEvent is the data of nat.type (go-libp2p's NAT type detection).
	NATTypeEvent struct {
		Transport string `json:"transport"`
		Type      string `json:"type"`
	}
	// NATPortMappingEvent is the data of nat.port_mapping.
	NATPortMappingEvent struct {
		Mappings []NATPortMappingEntry `json:"mappings"`
	}
	// NATRelayEvent is the data of nat.relay.reserved, nat.relay.renewed and nat.relay.lost.
	NATRelayEvent struct {
		Relay           string     `json:"relay"`
		Addrs           []string   `json:"addrs,omitempty"`
		Expires         *time.Time `json:"expires,omitempty"`
		LimitDurationMS float64    `json:"limit_duration_ms,omitempty"`
		LimitDataBytes  uint64     `json:"limit_data_bytes,omitempty"`
		Error           string     `json:"error,omitempty"`
	}
	// NATHolePunchStarted is the data of nat.holepunch.started.
	NATHolePunchStarted struct {
		PeerID      string   `json:"peer_id"`
		RemoteAddrs []string `json:"remote_addrs"`
		RTTMS       float64  `json:"rtt_ms"`
	}
	// NATUpgradeEvent is the data of nat.connection.upgraded: a peer reached
	// through a relay now has a direct connection.
	NATUpgradeEvent struct {
		PeerID     string    `json:"peer_id"`
		DirectAddr string    `json:"direct_addr"`
		Transport  string    `json:"transport"`
		Direction  string    `json:"direction"` // "inbound" or "outbound"
		RelayedAt  time.Time `json:"relayed_at"`
		ElapsedMS  float64   `json:"elapsed_ms"` // from the relayed connection to the direct one
	}
)

// NATPrivate is the private network and the peer access lists in the
// doctor's report.
type NATPrivate struct {
	PrivateNetwork
	AllowlistActive bool   `json:"allowlist_active"`
	Allowed         int    `json:"allowed"` // peers on the allowlist
	Denied          int    `json:"denied"`  // peers on the denylist
	RefusedInbound  uint64 `json:"refused_inbound"`
	RefusedOutbound uint64 `json:"refused_outbound"`
}
