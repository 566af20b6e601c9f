package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/config"
)

func TestRenderParseRoundTrip(t *testing.T) {
	c := config.Default()
	c.Network.Bootstrap = []string{"/ip4/127.0.0.1/tcp/4101/p2p/12D3KooWGRUVh1GfmknJFWSXJYy8Y5yGwv8oJjRiSPmRQRRUbBcu"}
	c.ConnManager.HighWater = 123
	b, err := config.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range config.Keys() {
		name := key[strings.Index(key, ".")+1:]
		if !strings.Contains(string(b), "\n"+name+" = ") {
			t.Errorf("rendered config lacks %s", key)
		}
	}
	got, err := config.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConnManager.HighWater != 123 || got.Network.Bootstrap[0] != c.Network.Bootstrap[0] {
		t.Fatalf("round trip lost values: %+v", got)
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"syntax":        "[dht\nmode = 3",
		"unknown key":   "[dht]\nspeed = 3",
		"bad mode":      "[dht]\nmode = \"sideways\"",
		"bad multiaddr": "[network]\nlisten = [\"/ip4/1.2.3\"]",
		"no p2p":        "[network]\nbootstrap = [\"/ip4/127.0.0.1/tcp/1\"]",
		"water marks":   "[conn_manager]\nlow_water = 10\nhigh_water = 5",
		"security":      "[transports]\nsecurity = [\"plaintext\"]",
		"duration":      "[conn_manager]\ngrace_period = \"soon\"",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := config.Parse([]byte(doc)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestGetSet(t *testing.T) {
	c := config.Default()
	for _, tc := range []struct{ key, value, want string }{
		{"dht.mode", "client", `"client"`},
		{"conn_manager.grace_period", "1m", `"1m0s"`},
		{"discovery.mdns", "false", "false"},
		{"network.bootstrap", "", "[]"},
		{"transports.security", "tls,noise", `["tls","noise"]`},
		{"transports.security", `["noise"]`, `["noise"]`},
	} {
		if err := config.Set(&c, tc.key, tc.value); err != nil {
			t.Fatalf("set %s=%s: %v", tc.key, tc.value, err)
		}
		if got, _ := config.Get(c, tc.key); got != tc.want {
			t.Fatalf("get %s = %s, want %s", tc.key, got, tc.want)
		}
	}
	for _, bad := range [][2]string{{"dht.mode", "x"}, {"nope.x", "1"}, {"dht", "x"}, {"discovery.mdns", "maybe"}, {"conn_manager.low_water", "x"}} {
		if err := config.Set(&c, bad[0], bad[1]); err == nil {
			t.Fatalf("set %s=%s accepted", bad[0], bad[1])
		}
	}
}

func TestLocalProfile(t *testing.T) {
	c := config.Default()
	if err := c.ApplyProfile("local"); err != nil {
		t.Fatal(err)
	}
	if c.Discovery.MDNS || c.NAT.PortMapping || c.DHT.Mode != "server" || !strings.HasPrefix(c.API.Listen, "127.0.0.1:") {
		t.Fatalf("local profile: %+v", c)
	}
	for _, a := range c.Network.Listen {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/") {
			t.Fatalf("local profile listens on %s", a)
		}
	}
	if err := c.ApplyProfile("bogus"); err == nil {
		t.Fatal("unknown profile accepted")
	}
}

func TestRepoInit(t *testing.T) {
	repo := config.Repo{Path: filepath.Join(t.TempDir(), "r")}
	if _, err := repo.Config(); err == nil {
		t.Fatal("config of an empty repo")
	}
	sk, err := repo.Init(config.InitOptions{Profile: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Init(config.InitOptions{}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second init: %v", err)
	}
	loaded, err := repo.Key()
	if err != nil || !loaded.Equals(sk) {
		t.Fatalf("key: %v", err)
	}
	for _, f := range []string{config.KeyFile, config.TokenFile} {
		st, err := os.Stat(repo.File(f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v err %v", f, st.Mode().Perm(), err)
		}
	}
	unlock, err := repo.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Lock(); err == nil {
		t.Fatal("second lock succeeded")
	}
	unlock()
	if sk2, err := repo.Init(config.InitOptions{Force: true}); err != nil || sk2.Equals(sk) {
		t.Fatalf("forced init: %v", err)
	}
}

func TestAccountsSettings(t *testing.T) {
	c := config.Default()
	if c.API.Registration != "admin" || time.Duration(c.API.SessionTTL) != 7*24*time.Hour {
		t.Fatalf("defaults: %+v", c.API)
	}
	for _, tc := range []struct{ key, value, want string }{
		{"api.registration", "open", `"open"`},
		{"api.registration", "admin", `"admin"`},
		{"api.session_ttl", "12h", `"12h0m0s"`},
		{"api.session_ttl", "1m", `"1m0s"`},
	} {
		if err := config.Set(&c, tc.key, tc.value); err != nil {
			t.Fatalf("set %s=%s: %v", tc.key, tc.value, err)
		}
		if got, _ := config.Get(c, tc.key); got != tc.want {
			t.Fatalf("get %s = %s, want %s", tc.key, got, tc.want)
		}
	}
	for _, bad := range []struct{ key, value, msg string }{
		{"api.registration", "everyone", "api.registration"},
		{"api.registration", "", "api.registration"},
		{"api.session_ttl", "30s", "api.session_ttl"},
		{"api.session_ttl", "-1h", "api.session_ttl"},
		{"api.session_ttl", "9000h", "api.session_ttl"},
	} {
		c := config.Default()
		if err := config.Set(&c, bad.key, bad.value); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Fatalf("set %s=%q: %v", bad.key, bad.value, err)
		}
	}
	if _, err := config.Parse([]byte("[api]\nsession_ttl = \"0s\"")); err == nil || !strings.Contains(err.Error(), "api.session_ttl") {
		t.Fatalf("parse session_ttl 0s: %v", err)
	}
	// A config written before these settings existed gets the defaults.
	c, err := config.Parse([]byte("[api]\nlisten = \"127.0.0.1:5101\""))
	if err != nil || c.API.Registration != "admin" || time.Duration(c.API.SessionTTL) != config.DefaultSessionTTL {
		t.Fatalf("old config: %+v %v", c.API, err)
	}
}

// A config that leaves the node nothing to listen on is refused, naming the
// setting; one whose other addresses' transports are off is fine.
func TestValidateListenUsable(t *testing.T) {
	c := config.Default()
	c.Network.Listen = []string{}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "network.listen: empty") {
		t.Fatalf("empty listen: %v", err)
	}
	c = config.Default()
	c.Network.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws", "/ip4/127.0.0.1/udp/0/webrtc-direct"}
	c.Transports.WebSocket, c.Transports.WebRTCDirect = false, false
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "network.listen: no usable listen address") ||
		!strings.Contains(err.Error(), "transports.websocket, transports.webrtc_direct = false") {
		t.Fatalf("every transport off: %v", err)
	}
	c.Transports.WebSocket = true
	if err := c.Validate(); err != nil {
		t.Fatalf("websocket on: %v", err)
	}
	if got := c.UsableListen(); len(got) != 1 || got[0] != "/ip4/127.0.0.1/tcp/0/ws" {
		t.Fatalf("usable %v", got)
	}
	// The local profile with only TCP and QUIC (as tests run nodes) keeps those.
	c = config.Default()
	c.ApplyProfile("local")
	c.Transports.WebSocket, c.Transports.WebRTCDirect, c.Transports.WebTransport = false, false, false
	if err := c.Validate(); err != nil || len(c.UsableListen()) != 2 {
		t.Fatalf("tcp and quic: %v %v", err, c.UsableListen())
	}
	if _, err := config.Parse([]byte("[network]\nlisten = []")); err == nil {
		t.Fatal("config file with an empty listen list accepted")
	}
}

func TestProfileOf(t *testing.T) {
	c := config.Default()
	if p := config.ProfileOf(c); p != "" {
		t.Fatalf("defaults: %q", p)
	}
	c.ApplyProfile("local")
	if p := config.ProfileOf(c); p != "local" {
		t.Fatalf("local: %q", p)
	}
	c.Discovery.MDNS = true
	if p := config.ProfileOf(c); p != "" {
		t.Fatalf("local with mDNS on: %q", p)
	}
}

// Issue 20 row 6: perf is off in the default profile and capped; the local
// profile serves it for benchmarks. Bad values name the key.
func TestPerfSettings(t *testing.T) {
	c := config.Default()
	if c.Perf.Enabled || c.Perf.MaxBytes != config.DefaultPerfMaxBytes || len(c.Perf.AllowPeers) != 0 {
		t.Fatalf("default perf: %+v", c.Perf)
	}
	if err := c.ApplyProfile("local"); err != nil {
		t.Fatal(err)
	}
	if !c.Perf.Enabled || c.Perf.MaxBytes != config.MaxPerfBytes {
		t.Fatalf("local perf: %+v", c.Perf)
	}
	for _, bad := range []struct{ key, value string }{
		{"perf.max_bytes", "0"},
		{"perf.max_bytes", "17179869185"},
		{"perf.allow_peers", "not-a-peer"},
		{"perf.enabled", "sometimes"},
	} {
		c := config.Default()
		if err := config.Set(&c, bad.key, bad.value); err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("set %s=%q: %v", bad.key, bad.value, err)
		}
	}
	c = config.Default()
	if err := config.Set(&c, "perf.max_bytes", "1048576"); err != nil || c.Perf.MaxBytes != 1<<20 {
		t.Fatalf("set perf.max_bytes: %v (%d)", err, c.Perf.MaxBytes)
	}
	if err := config.Set(&c, "perf.allow_peers", "12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK"); err != nil || len(c.Perf.AllowPeers) != 1 {
		t.Fatalf("set perf.allow_peers: %v (%v)", err, c.Perf.AllowPeers)
	}
}

// Issue 20 row 1: the per-peer stream limits have defaults and bounds.
func TestStreamLimitSettings(t *testing.T) {
	c := config.Default()
	if c.ResourceManager.MaxPendingStreamsPerPeer != 0 ||
		c.ResourceManager.MaxStreamsPerPeer != 0 || c.ResourceManager.MaxStreamsPerProtocolPerPeer != 0 {
		t.Fatalf("defaults: %+v", c.ResourceManager)
	}
	for _, tc := range [][2]string{
		{"resource_manager.max_pending_streams_per_peer", "8"},
		{"resource_manager.max_streams_per_peer", "200"},
		{"resource_manager.max_streams_per_protocol_per_peer", "50"},
	} {
		if err := config.Set(&c, tc[0], tc[1]); err != nil {
			t.Fatalf("set %s=%s: %v", tc[0], tc[1], err)
		}
	}
	for _, bad := range [][2]string{
		{"resource_manager.max_pending_streams_per_peer", "-1"},
		{"resource_manager.max_pending_streams_per_peer", "1025"},
		{"resource_manager.max_streams_per_peer", "-1"},
		{"resource_manager.max_streams_per_protocol_per_peer", "65537"},
		{"resource_manager.max_streams_per_protocol_per_peer", "201"}, // above max_streams_per_peer
	} {
		c := c
		if err := config.Set(&c, bad[0], bad[1]); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("set %s=%s: %v", bad[0], bad[1], err)
		}
	}
}

// Issue 20 row 3: the connection flood settings have defaults and bounds,
// and the pub/sub rate limit (row 7) too.
func TestConnGuardAndPubSubRateSettings(t *testing.T) {
	c := config.Default()
	if time.Duration(c.ConnManager.IdleGrace) != config.DefaultIdleGrace || time.Duration(c.ConnManager.TrimCooldown) != config.DefaultTrimCooldown {
		t.Fatalf("defaults: %+v", c.ConnManager)
	}
	if c.PubSub.PeerRateLimit != config.DefaultPubSubPeerRateLimit || c.PubSub.PeerBurst != config.DefaultPubSubPeerBurst ||
		c.PubSub.MeshFastest != config.DefaultPubSubMeshFastestPeers {
		t.Fatalf("defaults: %+v", c.PubSub)
	}
	for _, tc := range [][2]string{
		{"conn_manager.idle_grace", "1s"},
		{"conn_manager.trim_cooldown", "0s"},
		{"pubsub.peer_rate_limit", "0"},
		{"pubsub.peer_burst", "5"},
		{"pubsub.mesh_fastest_peers", "0"},
	} {
		c := config.Default()
		if err := config.Set(&c, tc[0], tc[1]); err != nil {
			t.Errorf("set %s=%s: %v", tc[0], tc[1], err)
		}
	}
	for _, bad := range [][2]string{
		{"conn_manager.idle_grace", "10ms"},
		{"conn_manager.idle_grace", "30s"}, // above grace_period (20s)
		{"conn_manager.trim_cooldown", "-1s"},
		{"conn_manager.trim_cooldown", "2h"},
		{"pubsub.peer_rate_limit", "-1"},
		{"pubsub.peer_burst", "0"},
		{"pubsub.mesh_fastest_peers", "-1"},
		{"pubsub.mesh_fastest_peers", "1001"},
	} {
		c := config.Default()
		if err := config.Set(&c, bad[0], bad[1]); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("set %s=%s: %v", bad[0], bad[1], err)
		}
	}
}
