// Package wire is the contract of the HTTP API: every request, response and
// event payload type, shared by the server (api) and the typed client
// (client). It imports only the standard library, so a client links none of
// libp2p. Field names are a stable contract for scripts: add fields, never
// rename them. Durations are milliseconds as JSON numbers, in fields whose
// names end in _ms.
package wire

import (
	"encoding/json"
	"time"
)

// Error is the body of every non-2xx API response.
type Error struct {
	Error string `json:"error"`          // one line for people
	Code  string `json:"code,omitempty"` // one of the Code* constants, for programs
}

// Error codes: one per class of failure, derived from the HTTP status.
const (
	CodeInvalidArgument = "invalid_argument" // 400: malformed input
	CodeUnauthorized    = "unauthorized"     // 401: missing or wrong token
	CodeForbidden       = "forbidden"        // 403: not allowed (cross-origin, not the owner)
	CodeNotFound        = "not_found"        // 404: unknown peer, route or object
	CodeTimeout         = "timeout"          // 408: the deadline passed
	CodeConflict        = "conflict"         // 409: already exists
	CodeTooLarge        = "too_large"        // 413: body or value over a limit
	CodeInternal        = "internal"         // 500
	CodeNotImplemented  = "not_implemented"  // 501
	CodeBadGateway      = "bad_gateway"      // 502: the remote peer or handler failed
	CodeUnavailable     = "unavailable"      // 503: busy or shutting down
)

// ID describes the local node (GET /v1/id).
type ID struct {
	PeerID        string   `json:"peer_id"`
	Addrs         []string `json:"addrs"`        // full multiaddrs ending in /p2p/<peer_id>
	ListenAddrs   []string `json:"listen_addrs"` // what the node is bound to
	Protocols     []string `json:"protocols"`
	AgentVersion  string   `json:"agent_version"`
	DHTMode       string   `json:"dht_mode"`
	Reachability  string   `json:"reachability"`   // AutoNAT: "unknown", "public" or "private"
	Bootstrap     []string `json:"bootstrap"`      // configured bootstrap peers
	BootstrapNode bool     `json:"bootstrap_node"` // true when no bootstrap peers are configured
	Profile       string   `json:"profile"`        // config profile applied at start ("local"), "" for none
	// PrivateNetwork says whether the node is in a private network.
	PrivateNetwork PrivateNetwork `json:"private_network"`
}

// Peer is one open connection (GET /v1/peers).
type Peer struct {
	PeerID       string    `json:"peer_id"`
	Addr         string    `json:"addr"` // remote multiaddr
	Direction    string    `json:"direction"`
	Transport    string    `json:"transport"` // tcp, quic-v1, ws, webrtc-direct, webtransport, p2p-circuit
	Security     string    `json:"security"`
	Muxer        string    `json:"muxer"`
	LatencyMS    float64   `json:"latency_ms"` // 0 when not yet measured
	OpenedAt     time.Time `json:"opened_at"`
	Streams      int       `json:"streams"`
	AgentVersion string    `json:"agent_version,omitempty"`
}

// ConnectRequest is the body of POST /v1/connect.
type ConnectRequest struct {
	Addr string `json:"addr"` // full multiaddr with /p2p/<peer ID>
}

// ConnectResult is the answer of POST /v1/connect.
type ConnectResult struct {
	PeerID string `json:"peer_id"`
	Addr   string `json:"addr"` // the address the connection uses
}

// DisconnectRequest is the body of POST /v1/disconnect.
type DisconnectRequest struct {
	Peer string `json:"peer"`
}

// PingRequest is the body of POST /v1/ping.
type PingRequest struct {
	Target string `json:"target"` // peer ID or full multiaddr
	// Count is the number of pings, 1 to 100; absent: 3. An explicit 0 is
	// refused, not taken for the default.
	Count *int `json:"count,omitempty"`
}

// PingResult is the answer of POST /v1/ping.
type PingResult struct {
	PeerID string    `json:"peer_id"`
	RTTsMS []float64 `json:"rtts_ms"`
}

// Event is one entry of the event stream (GET /v1/events, Server-Sent
// Events: "event: <type>" and "data: <this object as JSON>").
type Event struct {
	Seq  uint64          `json:"seq"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Provider is one provider record found (GET /v1/dht/findprovs).
type Provider struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
}

// PeerEvent is the data of the peer.connected and peer.disconnected events.
type PeerEvent struct {
	PeerID    string `json:"peer_id"`
	Addr      string `json:"addr,omitempty"`
	Direction string `json:"direction,omitempty"`
	Transport string `json:"transport,omitempty"`
}

// IdentifiedEvent is the data of the peer.identified event.
type IdentifiedEvent struct {
	PeerID       string   `json:"peer_id"`
	AgentVersion string   `json:"agent_version"`
	Protocols    []string `json:"protocols"`
	Addrs        []string `json:"addrs"`
}

// AddrsEvent is the data of the addrs.updated event.
type AddrsEvent struct {
	Addrs   []string `json:"addrs"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// NodeEvent is the data of the node.started event.
type NodeEvent struct {
	PeerID string `json:"peer_id"`
}

// DroppedEvent is the data of events.dropped (the event stream) and dropped
// (a pub/sub subscription): how many items this client lost by falling behind.
type DroppedEvent struct {
	Dropped uint64 `json:"dropped"`
}

// Status is the answer of routes that only acknowledge (healthz, shutdown).
type Status struct {
	Status string `json:"status"`
}

// DisconnectResult is the answer of POST /v1/disconnect.
type DisconnectResult struct {
	PeerID string `json:"peer_id"`
}

// Long operations (POST /v1/perf, GET /v1/explore) report their progress
// when asked with "Accept: text/event-stream": the answer is then a stream of
// "progress" events, ended by one "result" event whose data is the usual
// JSON answer, or by one "error" event (ErrorEvent). Input errors are
// answered before the stream starts, as usual.

// ErrorEvent is the data of the "error" event that ends a progress stream.
type ErrorEvent struct {
	Status int    `json:"status"` // the HTTP status the error would have answered
	Error  string `json:"error"`
	Code   string `json:"code,omitempty"`
}

// Version describes the daemon's binary (GET /v1/version) or, printed by
// "plexus version", the CLI's.
type Version struct {
	Version    string     `json:"version"`
	Commit     string     `json:"commit"`             // source revision; empty when the build did not record it
	Modified   bool       `json:"modified,omitempty"` // built from a tree with uncommitted changes
	CommitTime *time.Time `json:"commit_time,omitempty"`
	Go         string     `json:"go"`       // Go toolchain, e.g. "go1.26.8"
	Platform   string     `json:"platform"` // GOOS/GOARCH
	Libp2p     string     `json:"libp2p"`   // go-libp2p module version
}

// Stats are the node's running totals (GET /v1/stats): the dashboard's
// uptime, connection count and bandwidth chart.
type Stats struct {
	StartedAt   time.Time `json:"started_at"`
	UptimeMS    float64   `json:"uptime_ms"`
	Peers       int       `json:"peers"`       // peers with at least one open connection
	Connections int       `json:"connections"` // open connections
	Streams     int       `json:"streams"`     // open streams
	BytesIn     int64     `json:"bytes_in"`    // bytes received on every stream since start
	BytesOut    int64     `json:"bytes_out"`   // bytes sent on every stream since start
	RateIn      float64   `json:"rate_in"`     // bytes per second received, smoothed over the last seconds
	RateOut     float64   `json:"rate_out"`    // bytes per second sent, smoothed over the last seconds
}
