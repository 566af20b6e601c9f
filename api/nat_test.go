package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/nat"
)

type fakeNATStatus struct {
	natAPI
	st nat.Status
}

func (f fakeNATStatus) Status() nat.Status { return f.st }

// testNATStatus is a report with every part filled: a private node with a
// relay reservation, one upgraded and one relayed-only peer.
func testNATStatus(t *testing.T) (nat.Status, peer.ID, peer.ID) {
	self, relay, other := testPeer(t), testPeer(t), testPeer(t)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	circuit := ma.StringCast("/ip4/198.51.100.1/tcp/4101/p2p/" + relay.String() + "/p2p-circuit")
	punch := nat.HolePunchResult{Time: now, PeerID: other, Kind: nat.KindHolePunch, Elapsed: 1500 * time.Millisecond,
		RTT: 40 * time.Millisecond, RemoteAddrs: []ma.Multiaddr{ma.StringCast("/ip4/203.0.113.7/tcp/4101")}, Error: "i/o timeout"}
	conf := 3
	return nat.Status{
		PeerID: self, Since: now, Reachability: network.ReachabilityPrivate, ReachabilitySource: nat.SourceAutoNAT,
		ReachabilitySourceText: "AutoNAT, confidence 3/3", Confidence: &conf, ReachabilitySince: now,
		ReachabilityHistory: []nat.ReachabilityChange{{Time: now, Reachability: network.ReachabilityPrivate,
			Previous: network.ReachabilityUnknown, Source: nat.SourceAutoNAT}},
		Addrs: []nat.AddrStatus{{Addr: circuit, Reachability: nat.AddrRelayed, Source: "relay", Advertised: true}},
		ObservedAddrs: []nat.ObservedAddr{{Addr: ma.StringCast("/ip4/198.51.100.9/tcp/61000"), Local: "tcp/4101",
			Observer: "198.51.100.1", PeerID: relay, At: now}},
		NATMapping: []nat.NATMapping{{Transport: "tcp", Behaviour: nat.MappingUnknown, PortPreserving: "no", Observers: 1, Basis: "one observer only"}},
		PortMapping: nat.PortMapping{Enabled: true, Mappings: []nat.PortMappingEntry{{
			Listen: ma.StringCast("/ip4/192.168.1.2/tcp/4101"), External: ma.StringCast("/ip4/198.51.100.9/tcp/4101")}}},
		RelayService: nat.RelayService{Enabled: true, MaxReservations: 128, MaxReservationsPerIP: 8, MaxCircuits: 16,
			ReservationTTL: time.Hour, CircuitDuration: 2 * time.Minute, CircuitDataBytes: 2 << 20},
		RelayClient: nat.RelayClient{AutoRelay: true, Wanted: 2, KnownRelays: 1,
			StaticRelays: []peer.AddrInfo{{ID: relay, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/198.51.100.1/tcp/4101")}}},
			Reservations: []nat.Reservation{
				{Relay: relay, Addrs: []ma.Multiaddr{circuit}, Since: now, Expires: now.Add(time.Hour), LimitDuration: time.Minute, LimitDataBytes: 1 << 20, Renewals: 1},
				{Relay: other, Since: now, Error: "no reservation"},
			}},
		HolePunch: nat.HolePunchStatus{Enabled: true, Ready: true, Attempts: 2, Successes: 1, SuccessRate: 0.5,
			Upgrades: 1, MedianUpgrade: 2500 * time.Microsecond, Recent: []nat.HolePunchResult{punch},
			RecentUpgrades: []nat.UpgradeEvent{{PeerID: other, DirectAddr: ma.StringCast("/ip4/203.0.113.7/udp/4101/quic-v1"),
				Transport: "quic-v1", Direction: network.DirOutbound, RelayedAt: now, Elapsed: 2500 * time.Microsecond}}},
		Connections: nat.Connections{DirectPeers: 1, RelayedPeers: 1, RelayedOnly: []nat.RelayedPeer{{PeerID: other,
			Addr: circuit, Since: now, LastHolePunch: &punch, Reason: "hole punching failed"}}},
		Advice: []nat.Advice{{Level: nat.LevelWarn, Topic: nat.TopicRelay, Message: "add a relay"}},
	}, relay, other
}

func TestNATStatus(t *testing.T) {
	st, relay, other := testNATStatus(t)
	h := newTestAPI(t, func(s *Services) { s.NAT = fakeNATStatus{st: st} }, nil)
	code, body := call(t, h, "GET", "/v1/nat", "")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var got wire.NATStatus
	decodeJSON(t, body, &got)

	if got.PeerID != st.PeerID.String() || got.Reachability != "private" || got.ReachabilitySource != "autonat-v1" ||
		got.ReachabilitySourceText != "AutoNAT, confidence 3/3" || got.Confidence == nil || *got.Confidence != 3 {
		t.Fatalf("reachability: %+v", got)
	}
	if h := got.ReachabilityHistory; len(h) != 1 || h[0].Reachability != "private" || h[0].Previous != "unknown" {
		t.Fatalf("history %+v", h)
	}
	if a := got.Addrs; len(a) != 1 || !strings.HasSuffix(a[0].Addr, "/p2p-circuit") || a[0].Reachability != "relayed" || !a[0].Advertised {
		t.Fatalf("addrs %+v", a)
	}
	if o := got.ObservedAddrs; len(o) != 1 || o[0].Addr != "/ip4/198.51.100.9/tcp/61000" || o[0].PeerID != relay.String() {
		t.Fatalf("observed %+v", o)
	}
	if m := got.PortMapping.Mappings; len(m) != 1 || m[0].External != "/ip4/198.51.100.9/tcp/4101" {
		t.Fatalf("port mappings %+v", m)
	}
	if rs := got.RelayService; rs.ReservationTTLMS != 3_600_000 || rs.CircuitDurationMS != 120_000 || rs.CircuitDataBytes != 2<<20 {
		t.Fatalf("relay service %+v: want durations in ms", rs)
	}
	rc := got.RelayClient
	if len(rc.StaticRelays) != 1 || rc.StaticRelays[0] != "/ip4/198.51.100.1/tcp/4101/p2p/"+relay.String() {
		t.Fatalf("static relays %v", rc.StaticRelays)
	}
	if len(rc.Reservations) != 2 {
		t.Fatalf("reservations %+v", rc.Reservations)
	}
	if r := rc.Reservations[0]; r.Expires == nil || !r.Expires.Equal(st.Since.Add(time.Hour)) || r.LimitDurationMS != 60_000 || r.LimitDataBytes != 1<<20 {
		t.Fatalf("reservation %+v", r)
	}
	if r := rc.Reservations[1]; r.Expires != nil || r.Addrs == nil || r.Error == "" {
		t.Fatalf("reservation without details %+v: want no expiry, empty addrs, the error", r)
	}
	hp := got.HolePunch
	if hp.MedianUpgradeMS != 2.5 || len(hp.Recent) != 1 || hp.Recent[0].ElapsedMS != 1500 || hp.Recent[0].RTTMS != 40 ||
		hp.Recent[0].DirectAddr != "" || hp.Recent[0].RemoteAddrs[0] != "/ip4/203.0.113.7/tcp/4101" {
		t.Fatalf("hole punching %+v", hp)
	}
	if u := hp.RecentUpgrades; len(u) != 1 || u[0].Direction != "outbound" || u[0].ElapsedMS != 2.5 || u[0].PeerID != other.String() {
		t.Fatalf("upgrades %+v", u)
	}
	if c := got.Connections; len(c.RelayedOnly) != 1 || c.RelayedOnly[0].LastHolePunch == nil ||
		c.RelayedOnly[0].LastHolePunch.Error != "i/o timeout" || c.RelayedOnly[0].Reason == "" {
		t.Fatalf("connections %+v", c)
	}
	if a := got.Advice; len(a) != 1 || a[0] != (wire.NATAdvice{Level: "warn", Topic: "relay", Message: "add a relay"}) {
		t.Fatalf("advice %+v", a)
	}
	// One duration unit on the wire.
	for _, old := range []string{"reservation_ttl_s", "circuit_duration_s", "limit_duration_s"} {
		if strings.Contains(string(body), `"`+old+`"`) {
			t.Errorf("the answer still has %s", old)
		}
	}
}

// A node that has not learnt anything yet answers empty lists, not nulls,
// and leaves the optional fields out.
func TestNATStatusEmpty(t *testing.T) {
	h := newTestAPI(t, func(s *Services) { s.NAT = fakeNATStatus{} }, nil)
	code, body := call(t, h, "GET", "/v1/nat", "")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reachability_history", "addrs", "observed_addrs", "nat_mapping", "advice"} {
		if v, ok := raw[k].([]any); !ok || len(v) != 0 {
			t.Errorf("%s = %v, want []", k, raw[k])
		}
	}
	if _, ok := raw["confidence"]; ok {
		t.Errorf("confidence present without AutoNAT verdict: %s", body)
	}
	if raw["reachability"] != "unknown" || raw["peer_id"] != "" {
		t.Errorf("reachability %v, peer_id %v", raw["reachability"], raw["peer_id"])
	}
}

func TestNATStatusRoute(t *testing.T) {
	h := newTestAPI(t, nil, nil)
	code, body := call(t, h, "POST", "/v1/nat", "{}")
	wantError(t, code, body, 404, "not_found", "no route")
}

func TestNATEventsConvert(t *testing.T) {
	p := testPeer(t)
	a := ma.StringCast("/ip4/198.51.100.1/tcp/4101")
	exp := time.Now().Add(time.Hour)
	cases := []struct {
		data any
		want string // in the JSON of the converted payload
	}{
		{nat.ReachabilityEvent{ReachabilityChange: nat.ReachabilityChange{Reachability: network.ReachabilityPublic,
			Previous: network.ReachabilityPrivate, Source: nat.SourceConfig}}, `"reachability":"public","previous":"private","source":"config"`},
		{nat.AddrsReachabilityEvent{Reachable: []ma.Multiaddr{a}}, `"reachable":["/ip4/198.51.100.1/tcp/4101"],"unreachable":[]`},
		{nat.NATTypeEvent{Transport: "udp", Type: nat.MappingEndpointDependent}, `"type":"endpoint-dependent"`},
		{nat.PortMappingEvent{Mappings: []nat.PortMappingEntry{{Listen: a, External: a}}}, `"external":"/ip4/198.51.100.1/tcp/4101"`},
		{nat.RelayEvent{Relay: p, Addrs: []ma.Multiaddr{a}, Expires: exp, LimitDuration: 2 * time.Minute}, `"limit_duration_ms":120000`},
		{nat.RelayEvent{Relay: p}, `{"relay":"` + p.String() + `"}`},
		{nat.HolePunchStarted{PeerID: p, RemoteAddrs: []ma.Multiaddr{a}, RTT: 1500 * time.Microsecond}, `"rtt_ms":1.5`},
		{nat.HolePunchResult{PeerID: p, Kind: nat.KindDirectDial, Success: true, Elapsed: time.Second, DirectAddr: a}, `"elapsed_ms":1000,`},
		{nat.UpgradeEvent{PeerID: p, DirectAddr: a, Direction: network.DirInbound, Elapsed: time.Millisecond}, `"direction":"inbound"`},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%T", c.data), func(t *testing.T) {
			v := eventWire(c.data) // through the converter list
			if !strings.HasPrefix(fmt.Sprintf("%T", v), "wire.NAT") {
				t.Fatalf("%T converts to %T", c.data, v)
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), c.want) {
				t.Fatalf("%s lacks %s", b, c.want)
			}
		})
	}
	if _, ok := natEventWire("not a nat event"); ok {
		t.Fatal("natEventWire converted a foreign payload")
	}
}
