package nat

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Status is the connectivity doctor's report ("plexus nat status"). The
// HTTP API's form of it is wire.NATStatus.
type Status struct {
	PeerID peer.ID
	Since  time.Time // when the service was created; counters count from here

	Reachability       network.Reachability
	ReachabilitySource string // SourceAutoNAT or SourceConfig
	// ReachabilitySourceText says where the verdict comes from, for people:
	// "set by nat.reachability", "AutoNAT, confidence 3/3".
	ReachabilitySourceText string
	Confidence             *int // AutoNAT v1's confidence, 0..MaxConfidence; nil when unknown or forced
	ReachabilitySince      time.Time
	ReachabilityHistory    []ReachabilityChange
	Addrs                  []AddrStatus   // per address
	ObservedAddrs          []ObservedAddr // what peers see, per observer
	NATMapping             []NATMapping   // per transport, when it can be inferred

	PortMapping  PortMapping
	RelayService RelayService
	RelayClient  RelayClient
	HolePunch    HolePunchStatus
	Connections  Connections
	Private      Private

	Advice []Advice
}

// Private is the node's private network and peer access lists, as the node
// reports them (Options.Private).
type Private struct {
	Enabled            bool     // the node has a swarm key: only nodes with the same key connect
	Fingerprint        string   // of the swarm key
	DisabledTransports []string // configured transports a private network turns off
	AllowlistActive    bool     // only allowed peers (and bootstrap peers, static relays) connect
	Allowed, Denied    int      // peers on each list
	// Connection attempts the lists refused since start.
	RefusedInbound, RefusedOutbound uint64
}

// Sources of the node's reachability verdict (Status.ReachabilitySource).
const (
	SourceAutoNAT = "autonat-v1" // AutoNAT v1 probes
	SourceConfig  = "config"     // nat.reachability forces it
)

// ReachabilityChange is one change of the node's reachability.
type ReachabilityChange struct {
	Time         time.Time
	Reachability network.Reachability
	Previous     network.Reachability
	Source       string // SourceAutoNAT or SourceConfig
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
	Addr         ma.Multiaddr
	Reachability string // Addr* constants
	Source       string // "autonat-v2", "autonat-v1", "config", "address range", "relay"
	Advertised   bool   // announced to peers (identify, DHT)
}

// ObservedAddr is the address one peer saw a connection from this node come from.
type ObservedAddr struct {
	Addr     ma.Multiaddr // /ip4/<ip>/<tcp|udp>/<port>
	Local    string       // the local socket, e.g. "tcp/4001"
	Observer string       // the observing peer's IP
	PeerID   peer.ID
	At       time.Time
}

// NATMapping is the NAT's mapping behaviour for one transport.
type NATMapping struct {
	Transport      string // "tcp" or "udp"
	Behaviour      string // Mapping* constants
	PortPreserving string // "yes", "no", "sometimes", "unknown"
	Observers      int    // distinct observer IPs
	Basis          string // what the verdict rests on
	Libp2p         string // go-libp2p's own verdict (needs many observers); "" when it has none
}

// PortMapping is the UPnP / NAT-PMP state.
type PortMapping struct {
	Enabled      bool
	GatewayFound bool
	Mappings     []PortMappingEntry
}

// PortMappingEntry maps a listen address to the router's external one.
type PortMappingEntry struct {
	Listen   ma.Multiaddr
	External ma.Multiaddr
}

func (e PortMappingEntry) equal(o PortMappingEntry) bool {
	return e.Listen.Equal(o.Listen) && e.External.Equal(o.External)
}

// RelayService is the state of this node's circuit relay v2 service.
type RelayService struct {
	Enabled              bool // configured
	Running              bool // serving now (only while public)
	MaxReservations      int
	MaxReservationsPerIP int
	MaxCircuits          int
	ReservationTTL       time.Duration
	CircuitDuration      time.Duration // 0: no limit
	CircuitDataBytes     int64         // 0: no limit
}

// RelayClient is the state of AutoRelay.
type RelayClient struct {
	AutoRelay    bool
	StaticRelays []peer.AddrInfo
	Wanted       int // reservations AutoRelay keeps while private
	KnownRelays  int // peers known to offer the relay service
	Reservations []Reservation
}

// Reservation is a slot this node holds on a relay.
type Reservation struct {
	Relay          peer.ID
	Addrs          []ma.Multiaddr // the /p2p-circuit addresses it gives this node
	Since          time.Time
	Expires        time.Time     // renewed by AutoRelay before then; zero when unknown
	LimitDuration  time.Duration // per relayed connection; 0: none
	LimitDataBytes uint64        // per relayed connection and direction; 0: none
	Renewals       int
	Error          string // why details are missing
}

// Hole punch result kinds (HolePunchResult.Kind).
const (
	KindHolePunch     = "hole-punch"
	KindDirectDial    = "direct-dial"
	KindProtocolError = "protocol-error"
)

// HolePunchStatus counts DCUtR since start.
type HolePunchStatus struct {
	Enabled             bool
	Ready               bool    // the DCUtR handler runs: the node knows a public address of its own
	Attempts            int     // hole punch rounds finished, as initiator or responder
	Successes           int     // rounds that ended with a direct connection
	SuccessRate         float64 // successes / attempts (0 without attempts)
	DirectDials         int     // direct dials tried before punching
	DirectDialSuccesses int
	ProtocolErrors      int
	Upgrades            int           // relayed peers that gained a direct connection
	MedianUpgrade       time.Duration // relayed connection to direct connection
	Recent              []HolePunchResult
	RecentUpgrades      []UpgradeEvent
	Birthday            BirthdayStatus // birthday hole punching (not counted above)
}

// HolePunchResult is one finished attempt (event nat.holepunch.finished).
type HolePunchResult struct {
	Time        time.Time
	PeerID      peer.ID
	Kind        string // Kind* constants
	Success     bool
	Elapsed     time.Duration
	RTT         time.Duration  // relayed round trip measured by DCUtR
	RemoteAddrs []ma.Multiaddr // the addresses punched towards
	DirectAddr  ma.Multiaddr   // on success
	Transport   string         // of the direct connection
	Error       string
}

// Connections summarises open connections by path.
type Connections struct {
	DirectPeers  int
	RelayedPeers int // peers reached only through a relay
	RelayedOnly  []RelayedPeer
}

// RelayedPeer is a peer reached only through a relay, and why.
type RelayedPeer struct {
	PeerID        peer.ID
	Addr          ma.Multiaddr
	Since         time.Time
	LastHolePunch *HolePunchResult // nil before any
	Reason        string           // why there is no direct connection
}

// Advice levels and topics.
const (
	LevelOK   = "ok"
	LevelInfo = "info"
	LevelWarn = "warn"

	TopicReachability = "reachability"
	TopicRelay        = "relay"
	TopicHolePunching = "hole-punching"
	TopicPortMapping  = "port-mapping"
	TopicNAT          = "nat"
	TopicPrivate      = "private-network"
	TopicAccess       = "access"
)

// Advice is one finding of the doctor.
type Advice struct {
	Level   string // Level* constants
	Topic   string // Topic* constants
	Message string
}

// Reachability returns the node's reachability.
func (s *Service) Reachability() network.Reachability {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reach
}

// Status returns the doctor's report. Before Start it reports the
// configuration only.
func (s *Service) Status() Status {
	h := s.host()
	var (
		protos          []protocol.ID
		all, advertised []ma.Multiaddr
		known           int
		own             []net.IP
		conns           []network.Conn
		id              peer.ID
	)
	if h != nil {
		id = h.ID()
		protos = h.Mux().Protocols()
		advertised = h.Addrs()
		all = advertised
		if ah, ok := h.(interface{ AllAddrs() []ma.Multiaddr }); ok {
			all = ah.AllAddrs()
		}
		known = len(knownRelays(h))
		own = ownIPs(h.Network())
		conns = h.Network().Conns()
	}
	pm := s.portMapping()
	conf := s.confidence()

	s.mu.Lock()
	st := Status{
		PeerID:              id,
		Since:               s.start.UTC(),
		Reachability:        s.reach,
		ReachabilitySource:  s.reachabilitySource(),
		Confidence:          conf,
		ReachabilitySince:   s.reachSince.UTC(),
		ReachabilityHistory: slices.Clone(s.history),
	}
	if st.Reachability == network.ReachabilityUnknown {
		st.Confidence = nil // go-libp2p's gauge starts at 0 before any probe
	}
	st.ReachabilitySourceText = sourceText(st.ReachabilitySource, st.Confidence)
	st.Addrs = s.addrStatuses(all, advertised)
	st.ObservedAddrs = []ObservedAddr{}
	obs := s.observed.list(time.Now())
	for _, o := range obs {
		a, err := ma.NewMultiaddr("/" + ipProto(o.ObservedIP) + "/" + o.ObservedIP + "/" + o.Transport + "/" + strconv.Itoa(o.ObsPort))
		if err != nil {
			continue
		}
		st.ObservedAddrs = append(st.ObservedAddrs, ObservedAddr{Addr: a,
			Local: o.Transport + "/" + strconv.Itoa(o.LocalPort), Observer: o.Observer, PeerID: o.Peer, At: o.At.UTC()})
	}
	st.NATMapping = append([]NATMapping{}, inferMapping(obs, own)...)
	for i := range st.NATMapping {
		st.NATMapping[i].Libp2p = s.libp2pTypes[st.NATMapping[i].Transport]
	}
	st.PortMapping = PortMapping{Enabled: s.cfg.PortMapping, Mappings: append([]PortMappingEntry{}, s.mappings...)}
	rs := s.cfg.RelayResources
	st.RelayService = RelayService{Enabled: s.cfg.RelayService, Running: slices.Contains(protos, HopProtocol),
		MaxReservations: rs.MaxReservations, MaxReservationsPerIP: rs.MaxReservationsPerIP, MaxCircuits: rs.MaxCircuits,
		ReservationTTL: rs.ReservationTTL}
	if rs.Limit != nil {
		st.RelayService.CircuitDuration, st.RelayService.CircuitDataBytes = rs.Limit.Duration, rs.Limit.Data
	}
	st.RelayClient = RelayClient{AutoRelay: s.cfg.AutoRelay, StaticRelays: slices.Clone(s.cfg.StaticRelays),
		Wanted: s.cfg.RelayCount, KnownRelays: known, Reservations: []Reservation{}}
	for _, r := range s.rsvps {
		st.RelayClient.Reservations = append(st.RelayClient.Reservations, *r)
	}
	slices.SortFunc(st.RelayClient.Reservations, func(a, b Reservation) int { return strings.Compare(a.Relay.String(), b.Relay.String()) })
	p := s.punch
	st.HolePunch = HolePunchStatus{Enabled: s.cfg.HolePunching, Ready: slices.Contains(protos, DCUtRProtocol),
		Attempts: p.attempts, Successes: p.successes, DirectDials: p.directDials, DirectDialSuccesses: p.directOK,
		ProtocolErrors: p.protocolErrors, Upgrades: len(s.upgrades), MedianUpgrade: median(s.upgrades),
		Recent: append([]HolePunchResult{}, p.recent...), RecentUpgrades: append([]UpgradeEvent{}, s.recentUpgrades...),
		Birthday: s.bday.status(s.cfg.BirthdayPunch)}
	if p.attempts > 0 {
		st.HolePunch.SuccessRate = float64(p.successes) / float64(p.attempts)
	}
	st.Connections = s.connections(conns, st)
	s.mu.Unlock()

	if pm != nil {
		st.PortMapping.GatewayFound = pm.HasDiscoveredNAT()
	}
	if s.priv != nil {
		st.Private = s.priv()
	}
	st.Advice = advise(st)
	return st
}

// addrStatuses classifies every address of the node; s.mu is held.
func (s *Service) addrStatuses(all, advertised []ma.Multiaddr) []AddrStatus {
	seen := map[string]bool{}
	out := []AddrStatus{}
	add := func(a ma.Multiaddr) {
		k := string(a.Bytes())
		if seen[k] {
			return
		}
		seen[k] = true
		as := AddrStatus{Addr: a, Advertised: slices.ContainsFunc(advertised, a.Equal)}
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
	slices.SortStableFunc(out, func(a, b AddrStatus) int { return strings.Compare(a.Addr.String(), b.Addr.String()) })
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
		rp := RelayedPeer{PeerID: id, Addr: a.relayed.RemoteMultiaddr(), Since: a.relayed.Stat().Opened.UTC()}
		if r, ok := s.punch.byPeer[id]; ok {
			rp.LastHolePunch = &r
		}
		rp.Reason = whyRelayed(rp, st)
		out.RelayedOnly = append(out.RelayedOnly, rp)
	}
	slices.SortFunc(out.RelayedOnly, func(a, b RelayedPeer) int { return strings.Compare(a.PeerID.String(), b.PeerID.String()) })
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
