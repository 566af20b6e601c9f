package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/nat"
)

// NAT is the NAT traversal capability: the connectivity doctor behind
// GET /v1/nat. *nat.Service implements it.
type NAT interface {
	Status() nat.Status
}

// getNAT answers the connectivity doctor's report.
func (s *Server) getNAT(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, natStatusWire(s.svc.NAT.Status()))
}

// natStatusWire converts the doctor's report to its wire form.
func natStatusWire(st nat.Status) wire.NATStatus {
	out := wire.NATStatus{
		PeerID:                 idString(st.PeerID),
		Since:                  st.Since,
		Reachability:           reachabilityName(st.Reachability),
		ReachabilitySource:     st.ReachabilitySource,
		ReachabilitySourceText: st.ReachabilitySourceText,
		Confidence:             st.Confidence,
		ReachabilitySince:      st.ReachabilitySince,
		ReachabilityHistory:    make([]wire.NATReachabilityChange, len(st.ReachabilityHistory)),
		Addrs:                  make([]wire.NATAddrStatus, len(st.Addrs)),
		ObservedAddrs:          make([]wire.NATObservedAddr, len(st.ObservedAddrs)),
		NATMapping:             make([]wire.NATMapping, len(st.NATMapping)),
		PortMapping: wire.NATPortMapping{Enabled: st.PortMapping.Enabled, GatewayFound: st.PortMapping.GatewayFound,
			Mappings: natMappingsWire(st.PortMapping.Mappings)},
		RelayService: wire.NATRelayService{
			Enabled:              st.RelayService.Enabled,
			Running:              st.RelayService.Running,
			MaxReservations:      st.RelayService.MaxReservations,
			MaxReservationsPerIP: st.RelayService.MaxReservationsPerIP,
			MaxCircuits:          st.RelayService.MaxCircuits,
			ReservationTTLMS:     ms(st.RelayService.ReservationTTL),
			CircuitDurationMS:    ms(st.RelayService.CircuitDuration),
			CircuitDataBytes:     st.RelayService.CircuitDataBytes,
		},
		RelayClient: wire.NATRelayClient{
			AutoRelay:    st.RelayClient.AutoRelay,
			StaticRelays: []string{},
			Wanted:       st.RelayClient.Wanted,
			KnownRelays:  st.RelayClient.KnownRelays,
			Reservations: make([]wire.NATReservation, len(st.RelayClient.Reservations)),
		},
		HolePunch: wire.NATHolePunchStatus{
			Enabled:             st.HolePunch.Enabled,
			Ready:               st.HolePunch.Ready,
			Attempts:            st.HolePunch.Attempts,
			Successes:           st.HolePunch.Successes,
			SuccessRate:         st.HolePunch.SuccessRate,
			DirectDials:         st.HolePunch.DirectDials,
			DirectDialSuccesses: st.HolePunch.DirectDialSuccesses,
			ProtocolErrors:      st.HolePunch.ProtocolErrors,
			Upgrades:            st.HolePunch.Upgrades,
			MedianUpgradeMS:     ms(st.HolePunch.MedianUpgrade),
			Recent:              make([]wire.NATHolePunchResult, len(st.HolePunch.Recent)),
			RecentUpgrades:      make([]wire.NATUpgradeEvent, len(st.HolePunch.RecentUpgrades)),
			Birthday: wire.NATBirthdayStatus{Enabled: st.HolePunch.Birthday.Enabled,
				Attempts: st.HolePunch.Birthday.Attempts, Successes: st.HolePunch.Birthday.Successes},
		},
		Connections: wire.NATConnections{
			DirectPeers:  st.Connections.DirectPeers,
			RelayedPeers: st.Connections.RelayedPeers,
			RelayedOnly:  make([]wire.NATRelayedPeer, len(st.Connections.RelayedOnly)),
		},
		Private: wire.NATPrivate{
			PrivateNetwork: wire.PrivateNetwork{Enabled: st.Private.Enabled, Fingerprint: st.Private.Fingerprint,
				DisabledTransports: append([]string{}, st.Private.DisabledTransports...)},
			AllowlistActive: st.Private.AllowlistActive, Allowed: st.Private.Allowed, Denied: st.Private.Denied,
			RefusedInbound: st.Private.RefusedInbound, RefusedOutbound: st.Private.RefusedOutbound,
		},
		Advice: make([]wire.NATAdvice, len(st.Advice)),
	}
	for i, c := range st.ReachabilityHistory {
		out.ReachabilityHistory[i] = natChangeWire(c)
	}
	for i, a := range st.Addrs {
		out.Addrs[i] = wire.NATAddrStatus{Addr: addrString(a.Addr), Reachability: a.Reachability, Source: a.Source, Advertised: a.Advertised}
	}
	for i, o := range st.ObservedAddrs {
		out.ObservedAddrs[i] = wire.NATObservedAddr{Addr: addrString(o.Addr), Local: o.Local, Observer: o.Observer, PeerID: idString(o.PeerID), At: o.At}
	}
	for i, m := range st.NATMapping {
		out.NATMapping[i] = wire.NATMapping(m)
	}
	for _, ai := range st.RelayClient.StaticRelays {
		for _, a := range ai.Addrs {
			out.RelayClient.StaticRelays = append(out.RelayClient.StaticRelays, a.String()+"/p2p/"+ai.ID.String())
		}
	}
	for i, r := range st.RelayClient.Reservations {
		out.RelayClient.Reservations[i] = wire.NATReservation{Relay: idString(r.Relay), Addrs: addrStrings(r.Addrs), Since: r.Since,
			Expires: optTime(r.Expires), LimitDurationMS: ms(r.LimitDuration), LimitDataBytes: r.LimitDataBytes, Renewals: r.Renewals, Error: r.Error}
	}
	for i, r := range st.HolePunch.Recent {
		out.HolePunch.Recent[i] = natPunchWire(r)
	}
	for i, u := range st.HolePunch.RecentUpgrades {
		out.HolePunch.RecentUpgrades[i] = natUpgradeWire(u)
	}
	for i, p := range st.Connections.RelayedOnly {
		rp := wire.NATRelayedPeer{PeerID: idString(p.PeerID), Addr: addrString(p.Addr), Since: p.Since, Reason: p.Reason}
		if p.LastHolePunch != nil {
			r := natPunchWire(*p.LastHolePunch)
			rp.LastHolePunch = &r
		}
		out.Connections.RelayedOnly[i] = rp
	}
	for i, a := range st.Advice {
		out.Advice[i] = wire.NATAdvice(a)
	}
	return out
}

// natEventWire converts the payloads of package nat's events.
func natEventWire(data any) (any, bool) {
	switch d := data.(type) {
	case nat.ReachabilityEvent:
		return wire.NATReachabilityEvent{NATReachabilityChange: natChangeWire(d.ReachabilityChange), Confidence: d.Confidence}, true
	case nat.AddrsReachabilityEvent:
		return wire.NATAddrsReachabilityEvent{Reachable: addrStrings(d.Reachable), Unreachable: addrStrings(d.Unreachable), Unknown: addrStrings(d.Unknown)}, true
	case nat.NATTypeEvent:
		return wire.NATTypeEvent(d), true
	case nat.PortMappingEvent:
		return wire.NATPortMappingEvent{Mappings: natMappingsWire(d.Mappings)}, true
	case nat.RelayEvent:
		return wire.NATRelayEvent{Relay: idString(d.Relay), Addrs: addrStrings(d.Addrs), Expires: optTime(d.Expires),
			LimitDurationMS: ms(d.LimitDuration), LimitDataBytes: d.LimitDataBytes, Error: d.Error}, true
	case nat.HolePunchStarted:
		return wire.NATHolePunchStarted{PeerID: idString(d.PeerID), RemoteAddrs: addrStrings(d.RemoteAddrs), RTTMS: ms(d.RTT)}, true
	case nat.HolePunchResult:
		return natPunchWire(d), true
	case nat.UpgradeEvent:
		return natUpgradeWire(d), true
	}
	return nil, false
}

func natChangeWire(c nat.ReachabilityChange) wire.NATReachabilityChange {
	return wire.NATReachabilityChange{Time: c.Time, Reachability: reachabilityName(c.Reachability),
		Previous: reachabilityName(c.Previous), Source: c.Source}
}

func natMappingsWire(ms []nat.PortMappingEntry) []wire.NATPortMappingEntry {
	out := make([]wire.NATPortMappingEntry, len(ms))
	for i, m := range ms {
		out[i] = wire.NATPortMappingEntry{Listen: addrString(m.Listen), External: addrString(m.External)}
	}
	return out
}

func natPunchWire(r nat.HolePunchResult) wire.NATHolePunchResult {
	return wire.NATHolePunchResult{Time: r.Time, PeerID: idString(r.PeerID), Kind: r.Kind, Success: r.Success,
		ElapsedMS: ms(r.Elapsed), RTTMS: ms(r.RTT), RemoteAddrs: addrStrings(r.RemoteAddrs),
		DirectAddr: addrString(r.DirectAddr), Transport: r.Transport, Error: r.Error}
}

func natUpgradeWire(u nat.UpgradeEvent) wire.NATUpgradeEvent {
	return wire.NATUpgradeEvent{PeerID: idString(u.PeerID), DirectAddr: addrString(u.DirectAddr), Transport: u.Transport,
		Direction: strings.ToLower(u.Direction.String()), RelayedAt: u.RelayedAt, ElapsedMS: ms(u.Elapsed)}
}

// reachabilityName is the wire form of a reachability: "public", "private"
// or "unknown".
func reachabilityName(r network.Reachability) string {
	switch r {
	case network.ReachabilityPublic:
		return "public"
	case network.ReachabilityPrivate:
		return "private"
	}
	return "unknown"
}

// idString is the wire form of a peer ID: "" for none.
func idString(id peer.ID) string {
	if id == "" {
		return ""
	}
	return id.String()
}

// addrString is the wire form of a multiaddr: "" for none.
func addrString(a ma.Multiaddr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// optTime is the wire form of a time that may be unknown (zero): nil then.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
