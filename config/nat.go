package config

import (
	"errors"
	"fmt"
	"time"
)

// NAT configures NAT traversal: port mapping, AutoNAT, the circuit relay v2
// service and client, and hole punching (DCUtR).
type NAT struct {
	PortMapping    bool   `toml:"port_mapping" comment:"Ask the router for a port mapping with UPnP / NAT-PMP. Default true."`
	Reachability   string `toml:"reachability" comment:"\"auto\" (AutoNAT finds out whether this node is publicly reachable), \"public\" or \"private\" (skip detection: a private node looks for relays at once, a public one serves as a relay at once). Default \"auto\"."`
	AutoNATService bool   `toml:"autonat_service" comment:"Dial other nodes back when they ask whether they are reachable (AutoNAT v1 service for older peers, rate-limited to 30 dials a minute and 3 per peer). Default true."`
	AutoNATv2      bool   `toml:"autonat_v2" comment:"AutoNAT v2: check each public address separately, and answer other nodes' v2 requests. Default true."`
	HolePunching   bool   `toml:"hole_punching" comment:"Upgrade relayed connections to direct ones by hole punching (DCUtR, TCP and QUIC). Default true."`

	RelayService          bool     `toml:"relay_service" comment:"Serve as a circuit relay v2 for private nodes. It runs only while this node is publicly reachable, with the limits below; relayed connections are small and short by design (hole punching coordination, pub/sub, small requests). Default true."`
	RelayMaxReservations  int      `toml:"relay_max_reservations" comment:"Relay service: nodes that may hold a reservation at once. Default 128."`
	RelayMaxPerIP         int      `toml:"relay_max_reservations_per_ip" comment:"Relay service: reservations from one IP address. Default 8."`
	RelayReservationTTL   Duration `toml:"relay_reservation_ttl" comment:"Relay service: a reservation lasts this long unless renewed (clients renew it before it expires). Default \"1h0m0s\"."`
	RelayMaxCircuits      int      `toml:"relay_max_circuits" comment:"Relay service: relayed connections open at once per node. Default 16."`
	RelayCircuitDuration  Duration `toml:"relay_circuit_duration" comment:"Relay service: a relayed connection is closed after this long (0: no limit). Default \"2m0s\"."`
	RelayCircuitDataBytes int      `toml:"relay_circuit_data_bytes" comment:"Relay service: a relayed connection is closed after relaying this many bytes in either direction (0: no limit). Enough for one largest request and its response. Default 2097152 (2 MiB)."`

	AutoRelay    bool     `toml:"auto_relay" comment:"When this node is private, find relays (static_relays, then connected and known peers that offer the relay service, then the DHT), reserve slots, advertise /p2p-circuit addresses, renew them and replace relays that fail. Default true."`
	StaticRelays []string `toml:"static_relays" comment:"Relays to use first (full multiaddrs ending in /p2p/<peer ID>). Default []."`
	RelayCount   int      `toml:"relay_count" comment:"Relays to hold reservations with while private. Default 2."`

	BirthdayPunch bool `toml:"birthday_punch" comment:"Birthday hole punching over QUIC with other Plexus nodes when exactly one side is behind an endpoint-dependent (symmetric) NAT, which DCUtR cannot beat: the symmetric side opens 256 UDP ports towards the other, which sends at most 2048 probes at 400 a second to random ports until one gets through. Default true."`
}

// The NAT section's defaults and bounds. Package nat fills the zero values
// of its own Config with the same defaults, reading them from here (config
// must not import nat, which pulls in libp2p).
const (
	// DefaultRelayCount is nat.relay_count's default; MaxRelayCount its upper bound (the lower is 1).
	DefaultRelayCount = 2
	MaxRelayCount     = 10
	// Relay service limits (nat.relay_*), the same as go-libp2p's except
	// the data limit, which is raised from 128 KiB to fit one largest request
	// and its response.
	DefaultRelayMaxReservations  = 128
	DefaultRelayMaxPerIP         = 8
	DefaultRelayMaxCircuits      = 16
	DefaultRelayReservationTTL   = time.Hour
	DefaultRelayCircuitDuration  = 2 * time.Minute
	DefaultRelayCircuitDataBytes = 2 << 20
	// MinRelayReservationTTL is nat.relay_reservation_ttl's lower bound:
	// clients renew 2 minutes before expiry.
	MinRelayReservationTTL = time.Minute
)

// Values of nat.reachability.
const (
	ReachabilityAuto    = "auto"
	ReachabilityPublic  = "public"
	ReachabilityPrivate = "private"
)

func defaultNAT() NAT {
	return NAT{
		PortMapping:           true,
		Reachability:          ReachabilityAuto,
		AutoNATService:        true,
		AutoNATv2:             true,
		HolePunching:          true,
		RelayService:          true,
		RelayMaxReservations:  DefaultRelayMaxReservations,
		RelayMaxPerIP:         DefaultRelayMaxPerIP,
		RelayReservationTTL:   Duration(DefaultRelayReservationTTL),
		RelayMaxCircuits:      DefaultRelayMaxCircuits,
		RelayCircuitDuration:  Duration(DefaultRelayCircuitDuration),
		RelayCircuitDataBytes: DefaultRelayCircuitDataBytes,
		AutoRelay:             true,
		StaticRelays:          []string{},
		RelayCount:            DefaultRelayCount,
		BirthdayPunch:         true,
	}
}

// validateNAT reports problems in the NAT section.
func (c *Config) validateNAT() []error {
	n := c.NAT
	var errs []error
	switch n.Reachability {
	case ReachabilityAuto, ReachabilityPublic, ReachabilityPrivate:
	default:
		errs = append(errs, fmt.Errorf("nat.reachability: %q is not one of %q, %q, %q", n.Reachability, ReachabilityAuto, ReachabilityPublic, ReachabilityPrivate))
	}
	for _, s := range n.StaticRelays {
		if _, err := ParsePeerAddr(s); err != nil {
			errs = append(errs, fmt.Errorf("nat.static_relays: %w", err))
		}
	}
	if n.RelayCount < 1 || n.RelayCount > MaxRelayCount {
		errs = append(errs, fmt.Errorf("nat.relay_count: %d is outside 1..%d", n.RelayCount, MaxRelayCount))
	}
	if n.RelayMaxReservations < 1 || n.RelayMaxPerIP < 1 || n.RelayMaxCircuits < 1 {
		errs = append(errs, fmt.Errorf("nat: relay_max_reservations (%d), relay_max_reservations_per_ip (%d) and relay_max_circuits (%d) must be at least 1",
			n.RelayMaxReservations, n.RelayMaxPerIP, n.RelayMaxCircuits))
	}
	if n.RelayReservationTTL < Duration(MinRelayReservationTTL) {
		errs = append(errs, fmt.Errorf("nat.relay_reservation_ttl: %s is shorter than %s (clients renew 2 minutes before expiry)", n.RelayReservationTTL, Duration(MinRelayReservationTTL)))
	}
	if n.RelayCircuitDuration < 0 || n.RelayCircuitDataBytes < 0 {
		errs = append(errs, errors.New("nat: relay_circuit_duration and relay_circuit_data_bytes must be >= 0 (0 means no limit)"))
	}
	return errs
}
