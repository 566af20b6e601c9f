// Package config holds the node's configuration file (defaults, validation,
// profiles, comment-preserving rendering) and its repo directory: identity
// key, API token, API address file, datastore and lock.
package config

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Default ports: a restarted node keeps its addresses.
const (
	DefaultTCPPort    = 4101 // TCP and QUIC (UDP)
	DefaultWSPort     = 4102 // WebSocket (TCP)
	DefaultWebRTCPort = 4103 // WebRTC-direct (UDP)
	DefaultAPIPort    = 5101
)

// Config is the whole node configuration, as stored in config.toml. Every
// field's default is given by Default and written out by Render.
type Config struct {
	Network         Network         `toml:"network" comment:"Where the node listens and which peers it joins through."`
	Transports      Transports      `toml:"transports" comment:"Transports and security. Every connection is encrypted and multiplexed with Yamux."`
	ConnManager     ConnManager     `toml:"conn_manager" comment:"The connection manager trims connections above high_water down to low_water."`
	ResourceManager ResourceManager `toml:"resource_manager" comment:"The libp2p resource manager is always on; limits scale to the machine unless set here."`
	DHT             DHT             `toml:"dht" comment:"The Kademlia DHT: peer routing and the network's record store."`
	Records         Records         `toml:"records" comment:"Signed application records (/plexus/<peer ID>/<name>) and provider records on the DHT."`
	Discovery       Discovery       `toml:"discovery" comment:"Local peer discovery."`
	NAT             NAT             `toml:"nat" comment:"NAT traversal."`
	PubSub          PubSub          `toml:"pubsub" comment:"Publish/subscribe: gossipsub topics with signed, validated messages."`
	Messaging       Messaging       `toml:"messaging" comment:"Direct request/response between peers for application protocols."`
	Perf            Perf            `toml:"perf" comment:"Throughput measurement (plexus perf)."`
	API             API             `toml:"api" comment:"The HTTP API used by the CLI, the dashboard and applications."`
	Log             Log             `toml:"log" comment:"Logging."`
	Explore         Explore         `toml:"explore" comment:"Periodic crawl of the network for the plexus_network_* metrics (the network data dashboard)."`
	Gateway         Gateway         `toml:"gateway" comment:"The IPFS trustless gateway (off by default)."`
	Files           Files           `toml:"files" comment:"File sharing: content-addressed files (IPFS UnixFS), stored in the repo's blocks directory."`
}

// Network configures listen addresses and bootstrap peers.
type Network struct {
	// Listen defaults to TCP 4101, QUIC 4101, WebSocket 4102 and WebRTC-direct 4103 on all interfaces.
	Listen []string `toml:"listen" comment:"Multiaddrs to listen on. Port 0 picks a free port."`
	// Bootstrap defaults to none: the node starts a new network.
	Bootstrap []string `toml:"bootstrap" comment:"Peers to join the network through (full multiaddrs ending in /p2p/<peer ID>). Empty: this node is a bootstrap node."`
}

// Transports selects transports and the security handshake order.
type Transports struct {
	TCP          bool     `toml:"tcp" comment:"TCP (with port reuse). Default true."`
	QUIC         bool     `toml:"quic" comment:"QUIC v1. Default true."`
	WebSocket    bool     `toml:"websocket" comment:"WebSocket. Default true."`
	WebRTCDirect bool     `toml:"webrtc_direct" comment:"WebRTC-direct (browser-dialable). Default true."`
	WebTransport bool     `toml:"webtransport" comment:"WebTransport, shares the QUIC port. Default true."`
	Security     []string `toml:"security" comment:"Security protocols for TCP and WebSocket, in order of preference: \"tls\" (TLS 1.3), \"noise\". Default [\"tls\", \"noise\"]."`
}

// ConnManager holds the connection manager's water marks.
type ConnManager struct {
	LowWater    int      `toml:"low_water" comment:"Connections kept when trimming. Default 100."`
	HighWater   int      `toml:"high_water" comment:"Trimming starts above this many connections. Default 400."`
	GracePeriod Duration `toml:"grace_period" comment:"New connections are not trimmed for this long. Default \"20s\"."`

	// Under a connection flood (issue 20 row 3; bounds in connguard.go).
	IdleGrace    Duration `toml:"idle_grace" comment:"Above high_water, an inbound peer with no useful traffic yet (no request exchanged, not in the DHT table or a pub/sub mesh) is spared only this long, even within grace_period: attackers that re-dial stay new forever (while the node stays above high_water after a trim, idle newcomers are trimmed at once). 100ms to 1h, at most grace_period. Default \"5s\"."`
	TrimCooldown Duration `toml:"trim_cooldown" comment:"A peer whose connections were trimmed may not connect in again for this long, so re-dialling gains an attacker nothing. 0 turns it off; at most 1h. Default \"1m0s\"."`
}

// ResourceManager overrides the automatically scaled limits.
type ResourceManager struct {
	MaxMemoryMB        int `toml:"max_memory_mb" comment:"Memory libp2p may reserve, in MiB. 0: scaled to the machine (1/8 of RAM, at least 128 MiB)."`
	MaxFileDescriptors int `toml:"max_file_descriptors" comment:"File descriptors libp2p may use. 0: half the process limit."`
	MaxConnections     int `toml:"max_connections" comment:"Total connections (inbound and outbound). 0: scaled default."`
	MaxInbound         int `toml:"max_inbound_connections" comment:"Inbound connections. 0: scaled default."`

	// Per-peer stream limits (issue 20 row 1; bounds in streams.go).
	MaxPendingStreamsPerPeer     int `toml:"max_pending_streams_per_peer" comment:"Inbound streams one peer may have open before they negotiate a protocol; more are reset, so a peer that opens streams and never negotiates exhausts only its own share. 0 to 1024; 0: 32. Default 0."`
	MaxStreamsPerPeer            int `toml:"max_streams_per_peer" comment:"Inbound streams of one peer over all protocols. 0 to 65536; 0: scaled default (256 + 128 per GiB of max_memory_mb)."`
	MaxStreamsPerProtocolPerPeer int `toml:"max_streams_per_protocol_per_peer" comment:"Inbound streams of one peer on one protocol. 0 to 65536, at most max_streams_per_peer; 0: scaled default (64 + 4 per GiB of max_memory_mb)."`
}

// DHT configures Kademlia.
type DHT struct {
	Mode           string `toml:"mode" comment:"\"auto\" (server when publicly reachable), \"server\" or \"client\". Default \"auto\"."`
	ProtocolPrefix string `toml:"protocol_prefix" comment:"Protocol prefix: the DHT speaks <prefix>/kad/1.0.0. Default \"/plexus\"."`

	// Issue 20 rows 5 and 9: defaults and bounds in dhtlimits.go.
	QueryDialTimeout Duration `toml:"query_dial_timeout" comment:"A DHT lookup gives up dialling a peer after this long and drops it from the routing table (a killed QUIC peer never answers). 100ms to 1m. Default \"3s\"."`
	// Quotas on what other peers store on this node; beyond them a peer's
	// records are refused (plexus_dht_records_refused_total).
	MaxRecordsPerPeer         int `toml:"max_records_per_peer" comment:"Value records (PUT_VALUE: /plexus, /pk, /ipns) one peer may store on this node. 1 to 1048576. Default 256."`
	MaxRecordBytesPerPeer     int `toml:"max_record_bytes_per_peer" comment:"Bytes of value records one peer may store on this node. 65536 to 1073741824. Default 4194304 (4 MiB)."`
	MaxRecords                int `toml:"max_records" comment:"Value records of all other peers this node stores; beyond it the oldest records of the peer storing the most bytes are deleted. At least max_records_per_peer, at most 16777216. Default 16384."`
	MaxRecordBytes            int `toml:"max_record_bytes" comment:"Bytes of value records of all other peers this node stores (evicted as for max_records). At least max_record_bytes_per_peer, at most 68719476736. Default 268435456 (256 MiB)."`
	MaxProviderRecordsPerPeer int `toml:"max_provider_records_per_peer" comment:"Provider records (ADD_PROVIDER) one peer may store on this node; they expire 48h after their last announcement. 1 to 16777216. Default 4096."`
	MaxProviderRecords        int `toml:"max_provider_records" comment:"Provider records of all peers this node stores; beyond it new ones are refused. At least max_provider_records_per_peer, at most 67108864. Default 262144."`
	// The Amino DHT, a second DHT (amino.go).
	Amino          bool     `toml:"amino" comment:"Also join the public IPFS DHT (Amino, /ipfs/kad/1.0.0) as a second DHT: /pk/ and /ipns/ records and provider records reach IPFS nodes (Kubo, Helia), providers are announced on and looked up in both DHTs, peers are looked up in both. Cost (client mode): connections to the bootstrap peers and to the peers each lookup queries (the connection manager trims them), a routing-table refresh (a lookup per bucket) every 10 minutes, one more lookup per provide, find or get (a provide waits for both DHTs); on loopback ~18 goroutines and a few hundred KiB of heap per node; in auto or server mode also the public network's requests. See the README, Joining the IPFS network. Default false (off in the local profile)."`
	AminoMode      string   `toml:"amino_mode" comment:"Mode on the Amino DHT: \"client\" (only asks), \"auto\" (server when publicly reachable, as Kubo) or \"server\". Default \"client\"."`
	AminoBootstrap []string `toml:"amino_bootstrap" comment:"Peers the Amino DHT joins through when its routing table is empty (full multiaddrs with /p2p/<peer ID>). Default: the well-known IPFS bootstrap peers (Kubo's list); the local profile empties it."`
}

// Discovery configures local discovery.
type Discovery struct {
	MDNS bool `toml:"mdns" comment:"Find and connect to nodes on the local network with mDNS (multicast). Default true."`
}

// API configures the HTTP API.
type API struct {
	Listen        string `toml:"listen" comment:"Address of the HTTP API. Port 0 picks a free port (the bound address is written to the repo's api file). Default \"127.0.0.1:5101\"."`
	MetricsListen string `toml:"metrics_listen" comment:"Separate listener for Prometheus /metrics without a token. Empty: /metrics is served on the API listener and needs the token. Default \"\"."`
	AllowRemote   bool   `toml:"allow_remote" comment:"Allow listen and metrics_listen on addresses beyond loopback (for example 0.0.0.0:5101 in a container). The API still needs the token; /metrics on metrics_listen does not. Default false."`

	// User accounts (package auth; bounds in accounts.go).
	Registration string   `toml:"registration" comment:"Who creates user accounts: \"admin\" (an admin or the repo's api.token; plexus users add) or \"open\" (anyone who reaches the API may register a viewer account with POST /v1/auth/register). Default \"admin\"."`
	SessionTTL   Duration `toml:"session_ttl" comment:"A login session ends after this long without use; each use extends it (sliding). 1m to 8760h. Default \"168h0m0s\" (7 days)."`

	// Connections (issue 20 row 4; defaults and bounds in apiconns.go).
	MaxConnections    int      `toml:"max_connections" comment:"Most open connections to the API; at the cap a new one closes the oldest connection that has not authenticated, then the oldest idle one (never an authenticated request in progress, such as an event stream). 8 to 65536. Default 512."`
	ReadHeaderTimeout Duration `toml:"read_header_timeout" comment:"A connection that has not sent a request's headers within this long is closed (a connection that sends nothing included). 1s to 10m. Default \"10s\"."`
	IdleTimeout       Duration `toml:"idle_timeout" comment:"A keep-alive connection with no request for this long is closed. 1s to 24h. Default \"1m0s\"."`
	WriteTimeout      Duration `toml:"write_timeout" comment:"A write to a client that reads nothing for this long fails and closes the connection; it bounds each write (each event of a stream), not a whole answer. 1s to 10m. Default \"30s\"."`
}

// Log configures logging.
type Log struct {
	Level  string `toml:"level" comment:"\"debug\", \"info\", \"warn\" or \"error\". Default \"info\"."`
	Format string `toml:"format" comment:"\"text\" or \"json\". Default \"text\"."`
}

// Default returns the configuration of a node with zero flags.
func Default() Config {
	c := Config{
		Network: Network{
			Listen: []string{
				fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultTCPPort),
				fmt.Sprintf("/ip6/::/tcp/%d", DefaultTCPPort),
				fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", DefaultTCPPort),
				fmt.Sprintf("/ip6/::/udp/%d/quic-v1", DefaultTCPPort),
				fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1/webtransport", DefaultTCPPort),
				fmt.Sprintf("/ip4/0.0.0.0/tcp/%d/ws", DefaultWSPort),
				fmt.Sprintf("/ip4/0.0.0.0/udp/%d/webrtc-direct", DefaultWebRTCPort),
			},
			Bootstrap: []string{},
		},
		Transports: Transports{TCP: true, QUIC: true, WebSocket: true, WebRTCDirect: true, WebTransport: true,
			// TLS first: in five of six benchmark runs here TCP+TLS+Yamux used
			// less CPU per byte than TCP+Noise (AES-GCM vs ChaCha20), and both
			// reach about raw Go TLS 1.3 throughput (bench/report.md). Peers
			// that only speak Noise (js-libp2p) negotiate it on the next
			// multistream-select round.
			Security: []string{"tls", "noise"}},
		ConnManager: ConnManager{LowWater: 100, HighWater: 400, GracePeriod: Duration(20 * time.Second)},
		DHT:         defaultDHT(),
		Discovery:   Discovery{MDNS: true},
		NAT:         defaultNAT(),
		PubSub:      defaultPubSub(),
		Records:     defaultRecords(),
		Messaging:   defaultMessaging(),
		Perf:        defaultPerf(),
		API:         defaultAPI(),
		Log:         Log{Level: "info", Format: "text"},
		Explore:     defaultExplore(),
		Files:       defaultFiles(),
	}
	c.ConnManager.IdleGrace, c.ConnManager.TrimCooldown = Duration(DefaultIdleGrace), Duration(DefaultTrimCooldown)
	c.DHT = withDHTLimits(c.DHT)
	return c
}

// Profiles lists the names ApplyProfile accepts.
var Profiles = []string{"default", "local"}

// LocalListen are the listen addresses of the local profile.
var LocalListen = []string{
	"/ip4/127.0.0.1/tcp/0",
	"/ip4/127.0.0.1/udp/0/quic-v1",
	"/ip4/127.0.0.1/tcp/0/ws",
	"/ip4/127.0.0.1/udp/0/webrtc-direct",
}

// ApplyProfile adjusts c for a named profile. "local" keeps all traffic on
// this machine: loopback listen addresses on port 0, no mDNS, no port
// mapping, no AutoNAT, DHT in server mode, the Amino DHT off with no
// bootstrap peers, API on a free loopback port. "default" (or "")
// changes nothing.
func (c *Config) ApplyProfile(name string) error {
	switch name {
	case "", "default":
		return nil
	case "local":
		c.Network.Listen = slices.Clone(LocalListen)
		c.Discovery.MDNS = false
		c.NAT.PortMapping = false
		// AutoNAT has nothing to learn on loopback; it costs ~19 goroutines
		// and 600 KiB per node.
		c.NAT.AutoNATService, c.NAT.AutoNATv2 = false, false
		c.DHT.Mode = "server"
		localAmino(&c.DHT)
		c.API.Listen = "127.0.0.1:0"
		// Benchmarks on this machine: serve perf, up to the largest exchange.
		c.Perf.Enabled, c.Perf.MaxBytes = true, MaxPerfBytes
		return nil
	}
	return fmt.Errorf("unknown profile %q (known: %s)", name, strings.Join(Profiles, ", "))
}

// ProfileOf names the profile whose settings c already holds: "local" when
// applying it would change nothing (a config written by "plexus init
// --profile local"), "" otherwise.
func ProfileOf(c Config) string {
	p := c
	p.Network.Listen = slices.Clone(c.Network.Listen)
	if err := p.ApplyProfile("local"); err == nil && reflect.DeepEqual(p, c) {
		return "local"
	}
	return ""
}

// Validate reports the first problem in c, naming the field and the value.
func (c *Config) Validate() error {
	var errs []error
	for _, s := range c.Network.Listen {
		if _, err := ma.NewMultiaddr(s); err != nil {
			errs = append(errs, fmt.Errorf("network.listen: invalid multiaddr %q: %w", s, err))
		}
	}
	if len(errs) == 0 {
		if err := c.checkUsableListen(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range c.Network.Bootstrap {
		if _, err := ParsePeerAddr(s); err != nil {
			errs = append(errs, fmt.Errorf("network.bootstrap: %w", err))
		}
	}
	if len(c.Transports.Security) == 0 {
		errs = append(errs, errors.New("transports.security: at least one of \"noise\", \"tls\" is required"))
	}
	for _, s := range c.Transports.Security {
		if s != "noise" && s != "tls" {
			errs = append(errs, fmt.Errorf("transports.security: unknown protocol %q (want \"noise\" or \"tls\")", s))
		}
	}
	if !c.Transports.TCP && !c.Transports.QUIC && !c.Transports.WebSocket && !c.Transports.WebRTCDirect && !c.Transports.WebTransport {
		errs = append(errs, errors.New("transports: every transport is disabled"))
	}
	cm := c.ConnManager
	if cm.LowWater < 0 || cm.HighWater <= 0 || cm.LowWater > cm.HighWater {
		errs = append(errs, fmt.Errorf("conn_manager: need 0 <= low_water (%d) <= high_water (%d) and high_water > 0", cm.LowWater, cm.HighWater))
	}
	if cm.GracePeriod < 0 {
		errs = append(errs, fmt.Errorf("conn_manager.grace_period: negative (%s)", cm.GracePeriod))
	}
	errs = append(errs, c.validateConnGuard()...)
	rm := c.ResourceManager
	if rm.MaxMemoryMB < 0 || rm.MaxFileDescriptors < 0 || rm.MaxConnections < 0 || rm.MaxInbound < 0 {
		errs = append(errs, errors.New("resource_manager: limits must be >= 0 (0 means scaled to the machine)"))
	}
	errs = append(errs, c.validateStreamLimits()...)
	switch c.DHT.Mode {
	case "auto", "server", "client":
	default:
		errs = append(errs, fmt.Errorf("dht.mode: %q is not one of \"auto\", \"server\", \"client\"", c.DHT.Mode))
	}
	if !strings.HasPrefix(c.DHT.ProtocolPrefix, "/") || strings.HasSuffix(c.DHT.ProtocolPrefix, "/") || strings.ContainsAny(c.DHT.ProtocolPrefix, " \t\n") {
		errs = append(errs, fmt.Errorf("dht.protocol_prefix: %q must start with / and not end with /", c.DHT.ProtocolPrefix))
	}
	if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
		errs = append(errs, fmt.Errorf("api.listen: %q is not host:port: %w", c.API.Listen, err))
	}
	if c.API.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.API.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("api.metrics_listen: %q is not host:port: %w", c.API.MetricsListen, err))
		}
	}
	for _, l := range []struct{ key, addr string }{{"api.listen", c.API.Listen}, {"api.metrics_listen", c.API.MetricsListen}} {
		if l.addr != "" && !c.API.AllowRemote && !IsLoopbackHostPort(l.addr) {
			errs = append(errs, fmt.Errorf("%s: %q is reachable beyond this machine; set api.allow_remote = true "+
				"(plexus daemon --api-allow-remote) to serve the API on other interfaces", l.key, l.addr))
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format: %q is not \"text\" or \"json\"", c.Log.Format))
	}
	errs = append(errs, c.validateNAT()...)
	errs = append(errs, c.validateMessaging()...)
	errs = append(errs, c.validatePubSub()...)
	errs = append(errs, c.validatePerf()...)
	errs = append(errs, c.validateRecords()...)
	errs = append(errs, c.validateAPIConns()...)
	errs = append(errs, c.validateDHTLimits()...)
	errs = append(errs, c.validateAmino()...)
	errs = append(errs, c.validateAccounts()...)
	errs = append(errs, c.validateExplore()...)
	errs = append(errs, c.validateGateway()...)
	errs = append(errs, c.validateFiles()...)
	return errors.Join(errs...)
}

// ListenTransport names the transports setting that serves the listen
// address a ("tcp", "quic", "websocket", "webtransport", "webrtc_direct"),
// or "" for an address no transport setting governs (the host then reports
// whether it can listen on it).
func ListenTransport(a ma.Multiaddr) string {
	name := ""
	for _, c := range a {
		switch p := c.Protocol().Name; p {
		case "tcp":
			name = "tcp"
		case "quic-v1":
			name = "quic"
		case "ws", "wss":
			name = "websocket"
		case "webtransport":
			name = "webtransport"
		case "webrtc-direct":
			name = "webrtc_direct"
		case "udp", "quic", "webrtc", "p2p-circuit":
			name = ""
		}
	}
	return name
}

// enabled reports whether the transports setting name is on.
func (t Transports) enabled(name string) bool {
	switch name {
	case "tcp":
		return t.TCP
	case "quic":
		return t.QUIC
	case "websocket":
		return t.WebSocket
	case "webtransport":
		return t.WebTransport
	case "webrtc_direct":
		return t.WebRTCDirect
	}
	return true
}

// UsableListen returns the listen addresses whose transport is enabled (and
// those no transport setting governs), dropping invalid ones.
func (c Config) UsableListen() []string {
	var out []string
	for _, s := range c.Network.Listen {
		a, err := ma.NewMultiaddr(s)
		if err == nil && c.Transports.enabled(ListenTransport(a)) {
			out = append(out, s)
		}
	}
	return out
}

// checkUsableListen reports a config that leaves the node nothing to
// listen on: an empty network.listen, or one whose every address needs a
// disabled transport.
func (c Config) checkUsableListen() error {
	if len(c.Network.Listen) == 0 {
		return errors.New("network.listen: empty; the node needs at least one listen address (delete the setting from config.toml to get the defaults)")
	}
	if len(c.UsableListen()) > 0 {
		return nil
	}
	var off []string
	for _, s := range c.Network.Listen {
		a, _ := ma.NewMultiaddr(s)
		if t := "transports." + ListenTransport(a); !slices.Contains(off, t) {
			off = append(off, t)
		}
	}
	return fmt.Errorf("network.listen: no usable listen address: the transport of every address is disabled (%s = false); enable one or listen on an enabled transport",
		strings.Join(off, ", "))
}

// IsLoopbackHostPort reports whether the host of host:port is "localhost" or
// a loopback IP; an empty host (every interface), another name or a
// malformed address is not.
func IsLoopbackHostPort(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParsePeerAddr parses a full multiaddr that ends in /p2p/<peer ID>.
func ParsePeerAddr(s string) (peer.AddrInfo, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("invalid multiaddr %q: %w", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("multiaddr %q has no /p2p/<peer ID> part: %w", s, err)
	}
	return *ai, nil
}

// Duration is a time.Duration written as a string such as "20s".
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// String returns the duration as text.
func (d Duration) String() string { return time.Duration(d).String() }
