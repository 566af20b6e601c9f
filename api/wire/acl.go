package wire

import "time"

// PrivateNetwork is the node's private network (GET /v1/id, "plexus id").
type PrivateNetwork struct {
	// Enabled is true when the node has a swarm key (<repo>/swarm.key): it
	// talks only to nodes with the same key.
	Enabled bool `json:"enabled"`
	// Fingerprint names the swarm key without revealing it: the first 16
	// hex digits of the SHA-256 of its 32 bytes. "" when not private.
	Fingerprint string `json:"fingerprint,omitempty"`
	// DisabledTransports are the configured transports turned off because
	// go-libp2p's private networks run over TCP and WebSocket only:
	// of "quic-v1", "webtransport", "webrtc-direct".
	DisabledTransports []string `json:"disabled_transports"`
}

// ACL is the peer allowlist and denylist (GET /v1/peers/acl). A denied
// peer never connects; while the allowlist has entries only they, the
// bootstrap peers and the static relays connect.
type ACL struct {
	AllowlistActive bool          `json:"allowlist_active"` // true when the allowlist has entries
	Allowed         []ACLEntry    `json:"allowed"`
	Denied          []ACLEntry    `json:"denied"`
	Implicit        []ACLImplicit `json:"implicit"` // admitted while the allowlist is active without being on it
	// Connection attempts refused since the node started: inbound ones
	// once the handshake named the peer, outbound ones before dialling.
	RefusedInbound  uint64 `json:"refused_inbound"`
	RefusedOutbound uint64 `json:"refused_outbound"`
}

// ACLEntry is one peer on a list.
type ACLEntry struct {
	PeerID string    `json:"peer_id"`
	Added  time.Time `json:"added"`
}

// ACLImplicit is a peer the node admits while the allowlist is active
// because of its configuration.
type ACLImplicit struct {
	PeerID string `json:"peer_id"`
	Reason string `json:"reason"` // "bootstrap peer (network.bootstrap)", "static relay (nat.static_relays)"
}

// ACLRequest is the body of POST /v1/peers/allow and POST /v1/peers/deny.
type ACLRequest struct {
	Peer string `json:"peer"` // peer ID
}

// ACLChange is the answer of POST /v1/peers/allow, POST /v1/peers/deny and
// DELETE /v1/peers/acl, and the data of the acl.changed event.
type ACLChange struct {
	PeerID   string `json:"peer_id"`
	List     string `json:"list"`     // "allow", "deny", or "" once removed
	Previous string `json:"previous"` // the list the peer was on before, or ""
	// Disconnected are the peers whose connections the change closed: the
	// denied peer, or every peer off a newly active allowlist.
	Disconnected []string `json:"disconnected"`
}

// ACLRefusedEvent is the data of the acl.refused event: a connection the
// lists refused (at most one event per peer per minute).
type ACLRefusedEvent struct {
	PeerID    string `json:"peer_id"`
	Direction string `json:"direction"` // "inbound" or "outbound"
	Addr      string `json:"addr,omitempty"`
	Reason    string `json:"reason"`
}
