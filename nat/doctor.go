package nat

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	manet "github.com/multiformats/go-multiaddr/net"
)

// mappingOf returns this node's inferred mapping behaviour over all
// transports: endpoint-dependent if any transport is, else independent if
// any is, else none or unknown.
func mappingOf(st Status) string {
	found := map[string]bool{}
	for _, m := range st.NATMapping {
		found[m.Behaviour] = true
		if m.Libp2p != "" {
			found[m.Libp2p] = true
		}
	}
	for _, b := range []string{MappingEndpointDependent, MappingEndpointIndependent, MappingNone} {
		if found[b] {
			return b
		}
	}
	return MappingUnknown
}

// portChanged reports whether the NAT rewrote the local port for every
// observation of some transport.
func portChanged(st Status) bool {
	for _, m := range st.NATMapping {
		if m.PortPreserving == "no" {
			return true
		}
	}
	return false
}

// whyRelayed explains why a peer is reached only through a relay.
func whyRelayed(rp RelayedPeer, st Status) string {
	if !st.HolePunch.Enabled {
		return "hole punching is off on this node (nat.hole_punching = false): relayed connections are never upgraded"
	}
	if !st.HolePunch.Ready {
		return "this node does not know a public address of its own yet (no public peer has told it over identify), so it cannot take part in hole punching; connect to a public peer or relay"
	}
	hp := rp.LastHolePunch
	if hp == nil {
		return "no hole punch with this peer yet: DCUtR is started by the side that accepted the relayed connection once identify has run; if none follows, that peer has hole punching off or knows no public address of its own"
	}
	if hp.Success {
		return "the last hole punch succeeded but the direct connection has closed since; the next relayed connection is punched again"
	}
	if hp.Kind == KindBirthday && hp.Error == BothSymmetricReason {
		return BothSymmetricReason
	}
	var b strings.Builder
	switch hp.Kind {
	case KindBirthday:
		fmt.Fprintf(&b, "the birthday hole punch failed (%s)", shortErr(hp.Error))
	case KindProtocolError:
		fmt.Fprintf(&b, "the hole punch exchange failed: %s", hp.Error)
	case KindDirectDial:
		fmt.Fprintf(&b, "a direct dial to its known addresses failed (%s) and no hole punch followed yet", hp.Error)
	default:
		fmt.Fprintf(&b, "hole punching failed (%s)", shortErr(hp.Error))
	}
	switch mapping := mappingOf(st); {
	case mapping == MappingEndpointDependent:
		b.WriteString(". This node's NAT is endpoint-dependent (symmetric): it uses a new external port for each destination, so the peer punches towards the port the relay saw, not the one used for it. No direct path through such a NAT unless the other side accepts unsolicited packets (full-cone or public); the connection stays on the relay")
	case mapping == MappingUnknown && portChanged(st):
		b.WriteString(". This node's NAT changed the local port, as endpoint-dependent (symmetric) NATs do: the peer then punches towards the wrong port. The connection stays on the relay")
	case mapping == MappingEndpointIndependent || mapping == MappingNone:
		b.WriteString(". This node's NAT keeps one external port per socket (endpoint-independent), so the peer's NAT is most likely endpoint-dependent (symmetric) and filters by port: such a pair cannot be hole-punched; the connection stays on the relay")
	default:
		b.WriteString(". If either NAT is endpoint-dependent (symmetric), hole punching cannot succeed; the connection stays on the relay")
	}
	return b.String()
}

// dialReason matches one address of a folded libp2p dial error:
// "* [/ip4/1.2.3.4/tcp/1] dial tcp4 ...: i/o timeout".
var dialReason = regexp.MustCompile(`\* \[([^\]]+)\] ([^;]+)`)

// shortErr shortens a hole punch error for people: the per-address reasons
// of a dial error ("/ip4/10.100.0.102/tcp/4001: i/o timeout"), or the text.
func shortErr(s string) string {
	if s == "" {
		return "no error given"
	}
	if m := dialReason.FindAllStringSubmatch(s, 3); len(m) > 0 {
		parts := make([]string, 0, len(m))
		for _, r := range m {
			reason := strings.TrimSpace(r[2])
			if i := strings.LastIndex(reason, ": "); i >= 0 {
				reason = reason[i+2:]
			}
			parts = append(parts, r[1]+": "+reason)
		}
		return strings.Join(parts, ", ")
	}
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// advise turns a status into concrete advice, most important first.
func advise(st Status) []Advice {
	var out []Advice
	add := func(level, topic, format string, args ...any) {
		out = append(out, Advice{Level: level, Topic: topic, Message: fmt.Sprintf(format, args...)})
	}
	relayCmd := "plexus config set nat.static_relays /ip4/<relay IP>/tcp/<port>/p2p/<relay peer ID> (then restart the daemon)"

	public := st.Reachability == network.ReachabilityPublic
	unknown := st.Reachability == network.ReachabilityUnknown
	switch st.Reachability {
	case network.ReachabilityPublic:
		if !advertisesDialable(st) {
			// Issue 19, case 2: a dial-back got through (a full-cone NAT, a
			// forwarded port) but nothing this node advertises can be dialled.
			add(LevelWarn, TopicReachability, "AutoNAT's dial-back reached this node (%s), but it advertises no public address and holds no relay reservation: other nodes cannot dial it until a peer has observed its public address (connect to a public peer) or a relay reservation is back", sourceText(st.ReachabilitySource, st.Confidence))
			break
		}
		add(LevelOK, TopicReachability, "publicly reachable (%s): other nodes can dial this node directly", sourceText(st.ReachabilitySource, st.Confidence))
	case network.ReachabilityPrivate:
		add(LevelInfo, TopicReachability, "not publicly reachable (%s): other nodes reach this node through a relay, then hole punching tries a direct connection", sourceText(st.ReachabilitySource, st.Confidence))
	default:
		if st.Connections.DirectPeers == 0 {
			add(LevelWarn, TopicReachability, "reachability unknown: AutoNAT needs connected peers that run the AutoNAT service; join a network (plexus connect <multiaddr> or network.bootstrap), or set nat.reachability to private or public if you know it")
		} else {
			add(LevelInfo, TopicReachability, "reachability unknown: AutoNAT has not decided yet (its first probe runs about 15 s after start, and a failed dial-back takes 15 s more); set nat.reachability to skip detection")
		}
	}

	if !public {
		switch rs := st.RelayClient; {
		case len(rs.Reservations) > 0:
			for _, r := range rs.Reservations {
				exp := "expiry unknown"
				if !r.Expires.IsZero() {
					exp = "expires " + r.Expires.Format(time.RFC3339) + ", renewed automatically"
				}
				add(LevelOK, TopicRelay, "relay reservation with %s (%s)", r.Relay, exp)
			}
			if len(rs.Reservations) < rs.Wanted && rs.KnownRelays <= len(rs.Reservations) {
				add(LevelInfo, TopicRelay, "%d of %d wanted relay reservations: no other relay known; add one with %s", len(rs.Reservations), rs.Wanted, relayCmd)
			}
		case unknown:
			if !rs.AutoRelay && len(rs.StaticRelays) == 0 {
				add(LevelInfo, TopicRelay, "auto_relay is off and no static relays are set: if this node turns out private, nobody can dial it")
			}
		case !rs.AutoRelay && len(rs.StaticRelays) == 0:
			add(LevelWarn, TopicRelay, "no relay reservation: auto_relay is off and no static relays are set, so nobody can dial this node; set nat.auto_relay true or add one with %s", relayCmd)
		case rs.KnownRelays == 0 && len(rs.StaticRelays) == 0:
			add(LevelWarn, TopicRelay, "no relay reservation: no public relay known (no connected or known peer offers the relay service); add one with %s, or connect to a public node started with \"plexus daemon --relay-service\"", relayCmd)
		default:
			add(LevelWarn, TopicRelay, "no relay reservation yet although %d relay(s) are known or configured: AutoRelay is trying (relays that refuse are retried after 5 minutes); check that the static relays are reachable with \"plexus ping <relay peer ID>\"", max(rs.KnownRelays, len(rs.StaticRelays)))
		}
	}

	rsvc := st.RelayService
	switch {
	case rsvc.Running:
		add(LevelOK, TopicRelay, "serving as a relay for private nodes (up to %d reservations, relayed connections limited to %s and %s)", rsvc.MaxReservations, limitDur(rsvc.CircuitDuration), limitBytes(rsvc.CircuitDataBytes))
	case rsvc.Enabled && public:
		add(LevelInfo, TopicRelay, "the relay service is enabled and starts now that the node is public")
	case rsvc.Enabled && unknown:
		add(LevelInfo, TopicRelay, "the relay service is enabled but runs only once this node is known to be publicly reachable; set nat.reachability = \"public\" if this node has a public address")
	}

	mapping := mappingOf(st)
	switch {
	case mapping == MappingEndpointDependent:
		also := ""
		if st.HolePunch.Birthday.Enabled {
			also = " (Plexus peers behind endpoint-independent NATs are still reached directly by birthday punching over QUIC; other peers, and peers behind symmetric NATs, are not)"
		}
		add(LevelWarn, TopicNAT, "this node's NAT is endpoint-dependent (symmetric): it picks a new external port for each destination, so hole punching fails against peers behind port-restricted NATs and those connections stay on relays%s; enable UPnP/NAT-PMP on the router, forward a port (then set nat.reachability = \"public\"), or use a router with endpoint-independent mapping", also)
	case mapping == MappingEndpointIndependent:
		add(LevelOK, TopicNAT, "this node's NAT maps each local port to one external port (endpoint-independent): hole punching can work")
	case len(st.ObservedAddrs) == 0 && !public:
		add(LevelInfo, TopicNAT, "no observed address yet: no public peer has told this node the address it sees; hole punching needs one (connect to a public peer)")
	}

	hp := st.HolePunch
	switch {
	case !hp.Enabled:
		add(LevelWarn, TopicHolePunching, "hole punching is off: relayed peers are never upgraded to direct connections; set nat.hole_punching true")
	case hp.Attempts > 0 && hp.Successes == 0:
		last := ""
		for i := len(hp.Recent) - 1; i >= 0; i-- {
			if r := hp.Recent[i]; r.Kind == KindHolePunch && r.Error != "" {
				last = "; last error: " + shortErr(r.Error)
				break
			}
		}
		add(LevelWarn, TopicHolePunching, "every hole punch failed (%d attempt(s))%s. One of the NATs is probably endpoint-dependent (symmetric); relayed connections keep working within the relay's limits", hp.Attempts, last)
	case hp.Attempts > 0:
		add(LevelOK, TopicHolePunching, "hole punching: %d of %d attempts succeeded (%.0f%%), median %.0f ms from relayed to direct connection", hp.Successes, hp.Attempts, 100*hp.SuccessRate, float64(hp.MedianUpgrade.Microseconds())/1000)
	case !hp.Ready && !public:
		add(LevelInfo, TopicHolePunching, "hole punching waits for a public address of this node (learned from a public peer over identify)")
	}

	if st.Connections.RelayedPeers > 0 {
		limits := "in time and data"
		for _, r := range st.RelayClient.Reservations {
			if !r.Expires.IsZero() {
				limits = "to " + limitDur(r.LimitDuration) + " and " + limitBytes(int64(r.LimitDataBytes)) + " per connection by this node's relays"
				break
			}
		}
		add(LevelInfo, TopicRelay, "%d peer(s) reached only through a relay: relayed connections are limited %s and end then; see connections.relayed_only for why each has no direct path",
			st.Connections.RelayedPeers, limits)
	}

	pm := st.PortMapping
	switch {
	case !pm.Enabled:
		if !public {
			add(LevelInfo, TopicPortMapping, "port mapping is off (nat.port_mapping = false); with a UPnP/NAT-PMP router, turning it on can make this node public")
		}
	case len(pm.Mappings) > 0:
		add(LevelOK, TopicPortMapping, "the router maps %d port(s) with UPnP/NAT-PMP", len(pm.Mappings))
	case !pm.GatewayFound && !public:
		add(LevelInfo, TopicPortMapping, "no UPnP/NAT-PMP gateway answered: enable UPnP on the router, or forward the listen ports (network.listen) manually and set nat.reachability = \"public\"")
	}

	pn := st.Private
	if pn.Enabled {
		off := "QUIC, WebTransport and WebRTC-direct are not used"
		if len(pn.DisabledTransports) > 0 {
			off = "turned off: " + strings.Join(pn.DisabledTransports, ", ")
		}
		add(LevelOK, TopicPrivate, "private network (swarm key %s): only nodes with the same swarm.key connect, bootstrap peers and relays included; go-libp2p private networks run over TCP and WebSocket only (%s)", pn.Fingerprint, off)
	}
	if pn.AllowlistActive || pn.Denied > 0 || pn.RefusedInbound+pn.RefusedOutbound > 0 {
		lists := fmt.Sprintf("%d peer(s) denied", pn.Denied)
		if pn.AllowlistActive {
			lists = fmt.Sprintf("allowlist active: only its %d peer(s), the bootstrap peers and static relays connect; %s", pn.Allowed, lists)
		}
		add(LevelInfo, TopicAccess, "%s; refused %d inbound and %d outbound connection attempt(s) since start (plexus peers acl)", lists, pn.RefusedInbound, pn.RefusedOutbound)
	}
	return out
}

// sourceText says where the reachability verdict comes from, for people.
func sourceText(source string, confidence *int) string {
	if source == SourceConfig {
		return "set by nat.reachability"
	}
	if confidence != nil {
		return fmt.Sprintf("AutoNAT, confidence %d/%d", *confidence, MaxConfidence)
	}
	return "AutoNAT"
}

func limitDur(d time.Duration) string {
	if d == 0 {
		return "no time limit"
	}
	return d.String()
}

func limitBytes(b int64) string {
	if b == 0 {
		return "no data limit"
	}
	if b%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d bytes", b)
}

// advertisesDialable reports whether the node advertises an address others
// can dial: a public one, or a relay address.
func advertisesDialable(st Status) bool {
	return slices.ContainsFunc(st.Addrs, func(a AddrStatus) bool {
		// manet.IsPublicAddr counts loopback addresses as public.
		return a.Advertised && (a.Reachability == AddrPublic && !manet.IsIPLoopback(a.Addr) || a.Reachability == AddrRelayed)
	})
}
