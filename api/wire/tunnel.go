package wire

import "time"

// ExposeRequest is the body of POST /v1/tunnels/expose: serve the local TCP
// address Target to peers under Protocol (which starts with "/x/").
type ExposeRequest struct {
	Protocol string `json:"protocol"` // e.g. /x/ssh
	Target   string `json:"target"`   // host:port (or /ip4/HOST/tcp/PORT), e.g. 127.0.0.1:22
	// Allow lists the peer IDs that may connect. Empty: the node's default
	// (in a private network its members), otherwise nobody.
	Allow []string `json:"allow,omitempty"`
}

// ForwardRequest is the body of POST /v1/tunnels/forward: listen on the
// local address Listen and carry each connection to Peer's Protocol.
type ForwardRequest struct {
	Listen   string `json:"listen"`   // host:port, port 0 for any free port
	Peer     string `json:"peer"`     // peer ID
	Protocol string `json:"protocol"` // e.g. /x/ssh
}

// Tunnel is one tunnel (GET /v1/tunnels; the answer of the expose, forward
// and DELETE routes; the data of the tunnel.opened and tunnel.closed
// events).
type Tunnel struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"` // "expose" or "forward"
	Protocol string `json:"protocol"`
	// Target is the address an exposed tunnel connects to.
	Target string `json:"target,omitempty"`
	// Allow lists the peers an exposed tunnel accepts; when it is empty,
	// DefaultAllow says whether the node's default policy (in a private
	// network: its members) applies, otherwise nobody may connect.
	Allow        []string `json:"allow,omitempty"`
	DefaultAllow bool     `json:"default_allow"`
	// Listen is the local address a forwarding tunnel listens on (with the
	// port it got when asked for port 0); Peer the peer it forwards to.
	Listen  string    `json:"listen,omitempty"`
	Peer    string    `json:"peer,omitempty"`
	Created time.Time `json:"created"`
	// Conns are open now (for a closed tunnel: were cut by the close);
	// MaxConns is the tunnel's limit.
	Conns    int `json:"conns"`
	MaxConns int `json:"max_conns"`
	// Accepted counts connections carried, Failed those that ended with an
	// error, Refused those turned away (not allowed, over the limit).
	Accepted uint64 `json:"accepted"`
	Failed   uint64 `json:"failed"`
	Refused  uint64 `json:"refused"`
	// BytesIn came from peers, BytesOut went to peers.
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	// LastError is the last failure of a connection, with its time.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// TunnelConnClosedEvent is the data of the tunnel.connection.closed event:
// a connection a tunnel carried ended.
type TunnelConnClosedEvent struct {
	Tunnel     string  `json:"tunnel"` // the tunnel's ID
	Kind       string  `json:"kind"`
	Protocol   string  `json:"protocol"`
	Peer       string  `json:"peer"`
	BytesIn    uint64  `json:"bytes_in"`
	BytesOut   uint64  `json:"bytes_out"`
	DurationMS float64 `json:"duration_ms"`
	Relayed    bool    `json:"relayed"`         // the stream ran over a relayed connection
	Error      string  `json:"error,omitempty"` // empty when it ended cleanly
}

// TunnelRefusedEvent is the data of the tunnel.refused event: a tunnel
// turned a connection away.
type TunnelRefusedEvent struct {
	Tunnel   string `json:"tunnel"`
	Kind     string `json:"kind"`
	Protocol string `json:"protocol"`
	Peer     string `json:"peer"`
	Reason   string `json:"reason"`
}
