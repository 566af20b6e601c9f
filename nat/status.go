package nat

import (
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Status is the connectivity doctor's report (GET /v1/nat, "plexus nat
// status"). Field names are a stable contract for scripts.
type Status struct {
	PeerID string    `json:"peer_id"`
	Since  time.Time `json:"since"` // when the service started; counters count from here

	Reachability        string               `json:"reachability"`         // "public", "private" or "unknown"
	ReachabilitySource  string               `json:"reachability_source"`  // "autonat-v1" or "config"
	Confidence          *int                 `json:"confidence,omitempty"` // AutoNAT v1's confidence, 0..3 (MaxConfidence)
	ReachabilitySince   time.Time            `json:"reachability_since"`
	ReachabilityHistory []ReachabilityChange `json:"reachability_history"`
	Addrs               []AddrStatus         `json:"addrs"`          // per address
	ObservedAddrs       []ObservedAddr       `json:"observed_addrs"` // what peers see, per observer
	NATMapping          []NATMapping         `json:"nat_mapping"`    // per transport, when it can be inferred

	PortMapping  PortMapping     `json:"port_mapping"`
	RelayService RelayService    `json:"relay_service"`
	RelayClient  RelayClient     `json:"relay_client"`
	HolePunch    HolePunchStatus `json:"hole_punch"`
	Connections  Connections     `json:"connections"`

	Advice []Advice `json:"advice"`
}

// ReachabilityChange is one change of the node's reachability.
type ReachabilityChange struct {
	Time         time.Time `json:"time"`
	Reachability string    `json:"reachability"`
	Previous     string    `json:"previous"`
	Source       string    `json:"source"`
}

// Address reachability values of AddrStatus.
const (
	AddrPublic      = "public"      // AutoNAT v2 dialled it back, or the node is public and it is a public address
	AddrUnreachable = "unreachable" // AutoNAT v2 could not dial it
	AddrUnknown     = "unknown"     // a public address not confirmed either way yet
	AddrPrivate     = "private"     // a private-range or loopback address: reachable on this network only
	AddrRelayed     = "relayed"     // a /p2p-circuit address through a relay reservation
)

// AddrStatus is the reachability of one address of the node.
type AddrStatus struct {
	Addr         string `json:"addr"`
	Reachability string `json:"reachability"`
	Source       string `json:"source"`     // "autonat-v2", "autonat-v1", "config", "address range", "relay"
	Advertised   bool   `json:"advertised"` // announced to peers (identify, DHT)
}

// ObservedAddr is the address one peer saw a connection from this node come from.
type ObservedAddr struct {
	Addr     string    `json:"addr"`     // /ip4/<ip>/<tcp|udp>/<port>
	Local    string    `json:"local"`    // the local socket, e.g. "tcp/4001"
	Observer string    `json:"observer"` // the observing peer's IP
	PeerID   string    `json:"peer_id"`
	At       time.Time `json:"at"`
}

// NATMapping is the NAT's mapping behaviour for one transport.
type NATMapping struct {
	Transport      string `json:"transport"`        // "tcp" or "udp"
	Behaviour      string `json:"behaviour"`        // Mapping* constants
	PortPreserving string `json:"port_preserving"`  // "yes", "no", "sometimes", "unknown"
	Observers      int    `json:"observers"`        // distinct observer IPs
	Basis          string `json:"basis"`            // what the verdict rests on
	Libp2p         string `json:"libp2p,omitempty"` // go-libp2p's own verdict (needs many observers)
}

// PortMapping is the UPnP / NAT-PMP state.
type PortMapping struct {
	Enabled      bool               `json:"enabled"`
	GatewayFound bool               `json:"gateway_found"`
	Mappings     []PortMappingEntry `json:"mappings"`
}

// PortMappingEntry maps a listen address to the router's external one.
type PortMappingEntry struct {
	Listen   string `json:"listen"`
	External string `json:"external"`
}

// RelayService is the state of this node's circuit relay v2 service.
type RelayService struct {
	Enabled              bool    `json:"enabled"` // configured
	Running              bool    `json:"running"` // serving now (only while public)
	MaxReservations      int     `json:"max_reservations"`
	MaxReservationsPerIP int     `json:"max_reservations_per_ip"`
	MaxCircuits          int     `json:"max_circuits"`
	ReservationTTLS      float64 `json:"reservation_ttl_s"`
	CircuitDurationS     float64 `json:"circuit_duration_s"` // 0: no limit
	CircuitDataBytes     int64   `json:"circuit_data_bytes"` // 0: no limit
}

// RelayClient is the state of AutoRelay.
type RelayClient struct {
	AutoRelay    bool          `json:"auto_relay"`
	StaticRelays []string      `json:"static_relays"`
	Wanted       int           `json:"wanted"`       // reservations AutoRelay keeps while private
	KnownRelays  int           `json:"known_relays"` // peers known to offer the relay service
	Reservations []Reservation `json:"reservations"`
}

// Reservation is a slot this node holds on a relay.
type Reservation struct {
	Relay          string     `json:"relay"`
	Addrs          []string   `json:"addrs"` // the /p2p-circuit addresses it gives this node
	Since          time.Time  `json:"since"`
	Expires        *time.Time `json:"expires,omitempty"` // renewed by AutoRelay before then
	LimitDurationS float64    `json:"limit_duration_s"`  // per relayed connection; 0: none
	LimitDataBytes uint64     `json:"limit_data_bytes"`  // per relayed connection and direction; 0: none
	Renewals       int        `json:"renewals"`
	Error          string     `json:"error,omitempty"` // why details are missing
}

// HolePunchStatus counts DCUtR since start.
type HolePunchStatus struct {
	Enabled             bool              `json:"enabled"`
	Ready               bool              `json:"ready"`        // the DCUtR handler runs: the node knows a public address of its own
	Attempts            int               `json:"attempts"`     // hole punch rounds finished, as initiator or responder
	Successes           int               `json:"successes"`    // rounds that ended with a direct connection
	SuccessRate         float64           `json:"success_rate"` // successes / attempts (0 without attempts)
	DirectDials         int               `json:"direct_dials"` // direct dials tried before punching
	DirectDialSuccesses int               `json:"direct_dial_successes"`
	ProtocolErrors      int               `json:"protocol_errors"`
	Upgrades            int               `json:"upgrades"`          // relayed peers that gained a direct connection
	MedianUpgradeMS     float64           `json:"median_upgrade_ms"` // relayed connection to direct connection
	Recent              []HolePunchResult `json:"recent"`
	RecentUpgrades      []UpgradeEvent    `json:"recent_upgrades"`
}

// HolePunchResult is one finished attempt (event nat.holepunch.finished).
type HolePunchResult struct {
	Time        time.Time `json:"time"`
	PeerID      string    `json:"peer_id"`
	Kind        string    `json:"kind"` // "hole-punch", "direct-dial" or "protocol-error"
	Success     bool      `json:"success"`
	ElapsedMS   float64   `json:"elapsed_ms"`
	RTTMS       float64   `json:"rtt_ms,omitempty"`       // relayed round trip measured by DCUtR
	RemoteAddrs []string  `json:"remote_addrs,omitempty"` // the addresses punched towards
	DirectAddr  string    `json:"direct_addr,omitempty"`  // on success
	Transport   string    `json:"transport,omitempty"`    // of the direct connection
	Error       string    `json:"error,omitempty"`
}

// Connections summarises open connections by path.
type Connections struct {
	DirectPeers  int           `json:"direct_peers"`
	RelayedPeers int           `json:"relayed_peers"` // peers reached only through a relay
	RelayedOnly  []RelayedPeer `json:"relayed_only"`
}

// RelayedPeer is a peer reached only through a relay, and why.
type RelayedPeer struct {
	PeerID        string           `json:"peer_id"`
	Addr          string           `json:"addr"`
	Since         time.Time        `json:"since"`
	LastHolePunch *HolePunchResult `json:"last_hole_punch,omitempty"`
	Reason        string           `json:"reason"` // why there is no direct connection
}

// Advice is one finding of the doctor.
type Advice struct {
	Level   string `json:"level"` // "ok", "info" or "warn"
	Topic   string `json:"topic"` // "reachability", "relay", "hole-punching", "port-mapping", "nat"
	Message string `json:"message"`
}

// Event payloads.
type (
	// ReachabilityEvent is the data of nat.reachability.
	ReachabilityEvent struct {
		ReachabilityChange
		Confidence *int `json:"confidence,omitempty"`
	}
	// AddrsReachabilityEvent is the data of nat.addrs_reachability (AutoNAT v2).
	AddrsReachabilityEvent struct {
		Reachable   []string `json:"reachable"`
		Unreachable []string `json:"unreachable"`
		Unknown     []string `json:"unknown"`
	}
	// NATTypeEvent is the data of nat.type (go-libp2p's NAT type detection).
	NATTypeEvent struct {
		Transport string `json:"transport"`
		Type      string `json:"type"`
	}
	// PortMappingEvent is the data of nat.port_mapping.
	PortMappingEvent struct {
		Mappings []PortMappingEntry `json:"mappings"`
	}
	// RelayEvent is the data of nat.relay.reserved, nat.relay.renewed and nat.relay.lost.
	RelayEvent struct {
		Relay          string     `json:"relay"`
		Addrs          []string   `json:"addrs,omitempty"`
		Expires        *time.Time `json:"expires,omitempty"`
		LimitDurationS float64    `json:"limit_duration_s,omitempty"`
		LimitDataBytes uint64     `json:"limit_data_bytes,omitempty"`
		Error          string     `json:"error,omitempty"`
	}
	// HolePunchStarted is the data of nat.holepunch.started.
	HolePunchStarted struct {
		PeerID      string   `json:"peer_id"`
		RemoteAddrs []string `json:"remote_addrs"`
		RTTMS       float64  `json:"rtt_ms"`
	}
	// UpgradeEvent is the data of nat.connection.upgraded: a peer reached
	// through a relay now has a direct connection.
	UpgradeEvent struct {
		PeerID     string    `json:"peer_id"`
		DirectAddr string    `json:"direct_addr"`
		Transport  string    `json:"transport"`
		Direction  string    `json:"direction"`
		RelayedAt  time.Time `json:"relayed_at"`
		ElapsedMS  float64   `json:"elapsed_ms"` // from the relayed connection to the direct one
	}
)

// Reachability returns the node's reachability: "public", "private" or "unknown".
func (s *Service) Reachability() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return reachabilityName(s.reach)
}

// Status returns the doctor's report.
func (s *Service) Status() Status {
	h := s.h
	protos := h.Mux().Protocols()
	advertised := h.Addrs()
	all := advertised
	if ah, ok := h.(interface{ AllAddrs() []ma.Multiaddr }); ok {
		all = ah.AllAddrs()
	}
	known := len(knownRelays(h))
	own := ownIPs(h.Network())
	pm := s.hooks.portMapping()
	conns := h.Network().Conns()
	conf := s.confidence()

	s.mu.Lock()
	st := Status{
		PeerID:              h.ID().String(),
		Since:               s.start.UTC(),
		Reachability:        reachabilityName(s.reach),
		ReachabilitySource:  s.reachabilitySource(),
		Confidence:          conf,
		ReachabilitySince:   s.reachSince.UTC(),
		ReachabilityHistory: append([]ReachabilityChange{}, s.history...),
	}
	if st.Reachability == "unknown" {
		st.Confidence = nil // go-libp2p's gauge starts at 0 before any probe
	}
	st.Addrs = s.addrStatuses(all, advertised)
	st.ObservedAddrs = []ObservedAddr{}
	obs := s.observed.list(time.Now())
	for _, o := range obs {
		st.ObservedAddrs = append(st.ObservedAddrs, ObservedAddr{
			Addr:  "/" + ipProto(o.ObservedIP) + "/" + o.ObservedIP + "/" + o.Transport + "/" + strconv.Itoa(o.ObsPort),
			Local: o.Transport + "/" + strconv.Itoa(o.LocalPort), Observer: o.Observer, PeerID: o.Peer.String(), At: o.At.UTC(),
		})
	}
	st.NATMapping = append([]NATMapping{}, inferMapping(obs, own)...)
	for i := range st.NATMapping {
		st.NATMapping[i].Libp2p = s.libp2pTypes[st.NATMapping[i].Transport]
	}
	st.PortMapping = PortMapping{Enabled: s.cfg.PortMapping, Mappings: append([]PortMappingEntry{}, s.mappings...)}
	rs := s.cfg.RelayResources
	st.RelayService = RelayService{Enabled: s.cfg.RelayService, Running: slices.Contains(protos, HopProtocol),
		MaxReservations: rs.MaxReservations, MaxReservationsPerIP: rs.MaxReservationsPerIP, MaxCircuits: rs.MaxCircuits,
		ReservationTTLS: rs.ReservationTTL.Seconds()}
	if rs.Limit != nil {
		st.RelayService.CircuitDurationS, st.RelayService.CircuitDataBytes = rs.Limit.Duration.Seconds(), rs.Limit.Data
	}
	st.RelayClient = RelayClient{AutoRelay: s.cfg.AutoRelay, StaticRelays: []string{}, Wanted: s.cfg.RelayCount, KnownRelays: known}
	for _, ai := range s.cfg.StaticRelays {
		for _, a := range ai.Addrs {
			st.RelayClient.StaticRelays = append(st.RelayClient.StaticRelays, a.String()+"/p2p/"+ai.ID.String())
		}
	}
	st.RelayClient.Reservations = []Reservation{}
	for _, r := range s.rsvps {
		st.RelayClient.Reservations = append(st.RelayClient.Reservations, *r)
	}
	sort.Slice(st.RelayClient.Reservations, func(i, j int) bool {
		return st.RelayClient.Reservations[i].Relay < st.RelayClient.Reservations[j].Relay
	})
	p := s.punch
	st.HolePunch = HolePunchStatus{Enabled: s.cfg.HolePunching, Ready: slices.Contains(protos, DCUtRProtocol),
		Attempts: p.attempts, Successes: p.successes, DirectDials: p.directDials, DirectDialSuccesses: p.directOK,
		ProtocolErrors: p.protocolErrors, Upgrades: len(s.upgrades), MedianUpgradeMS: ms(median(s.upgrades)),
		Recent: append([]HolePunchResult{}, p.recent...), RecentUpgrades: append([]UpgradeEvent{}, s.recentUpgrades...)}
	if p.attempts > 0 {
		st.HolePunch.SuccessRate = float64(p.successes) / float64(p.attempts)
	}
	st.Connections = s.connections(conns, st)
	s.mu.Unlock()

	if pm != nil {
		st.PortMapping.GatewayFound = pm.HasDiscoveredNAT()
	}
	st.Advice = advise(st)
	return st
}

// addrStatuses classifies every address of the node; s.mu is held.
func (s *Service) addrStatuses(all, advertised []ma.Multiaddr) []AddrStatus {
	seen := map[string]bool{}
	out := []AddrStatus{}
	add := func(a ma.Multiaddr) {
		k := a.String()
		if seen[k] {
			return
		}
		seen[k] = true
		as := AddrStatus{Addr: k, Advertised: slices.ContainsFunc(advertised, a.Equal)}
		switch {
		case isRelayed(a):
			as.Reachability, as.Source = AddrRelayed, "relay"
		case !manet.IsPublicAddr(a):
			as.Reachability, as.Source = AddrPrivate, "address range"
		case slices.ContainsFunc(s.v2.reachable, a.Equal):
			as.Reachability, as.Source = AddrPublic, "autonat-v2"
		case slices.ContainsFunc(s.v2.unreachable, a.Equal):
			as.Reachability, as.Source = AddrUnreachable, "autonat-v2"
		case s.reach == network.ReachabilityPublic:
			as.Reachability, as.Source = AddrPublic, s.reachabilitySource()
		case s.reach == network.ReachabilityPrivate:
			as.Reachability, as.Source = AddrUnreachable, s.reachabilitySource()
		default:
			as.Reachability, as.Source = AddrUnknown, "autonat-v2"
		}
		out = append(out, as)
	}
	for _, list := range [][]ma.Multiaddr{advertised, all, s.v2.reachable, s.v2.unreachable, s.v2.unknown} {
		for _, a := range list {
			add(a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// connections summarises the open connections; s.mu is held.
func (s *Service) connections(conns []network.Conn, st Status) Connections {
	type agg struct {
		direct  bool
		relayed network.Conn
	}
	peers := map[peer.ID]*agg{}
	for _, c := range conns {
		a := peers[c.RemotePeer()]
		if a == nil {
			a = &agg{}
			peers[c.RemotePeer()] = a
		}
		if !isRelayed(c.RemoteMultiaddr()) {
			a.direct = true
		} else if a.relayed == nil || c.Stat().Opened.Before(a.relayed.Stat().Opened) {
			a.relayed = c
		}
	}
	out := Connections{RelayedOnly: []RelayedPeer{}}
	for id, a := range peers {
		if a.direct {
			out.DirectPeers++
			continue
		}
		out.RelayedPeers++
		rp := RelayedPeer{PeerID: id.String(), Addr: a.relayed.RemoteMultiaddr().String(), Since: a.relayed.Stat().Opened.UTC()}
		if r, ok := s.punch.byPeer[id]; ok {
			rp.LastHolePunch = &r
		}
		rp.Reason = whyRelayed(rp, st)
		out.RelayedOnly = append(out.RelayedOnly, rp)
	}
	sort.Slice(out.RelayedOnly, func(i, j int) bool { return out.RelayedOnly[i].PeerID < out.RelayedOnly[j].PeerID })
	return out
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	c := slices.Clone(ds)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func ipProto(ip string) string {
	if p := net.ParseIP(ip); p != nil && p.To4() == nil {
		return "ip6"
	}
	return "ip4"
}

// oneLine folds multi-line libp2p errors into one line.
func oneLine(err error) string { return oneLineText(err.Error()) }

// oneLineText folds a multi-line libp2p error text into one line.
func oneLineText(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(slices.DeleteFunc(lines, func(s string) bool { return s == "" }), "; ")
}
