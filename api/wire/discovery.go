package wire

import "time"

// Discovery: known peers, bootstrap peers, rendezvous.

// KnownPeer is one entry of GET /v1/peers/known: a peer the node learnt of,
// connected or not.
type KnownPeer struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
	// Sources say how the node learnt of the peer: "bootstrap", "identify",
	// "dht", "mdns", "rendezvous".
	Sources   []string  `json:"sources"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Connected bool      `json:"connected"`
}

// BootstrapStatus is one entry of GET /v1/bootstrap: a configured bootstrap
// peer and how dialling it goes.
type BootstrapStatus struct {
	Peer      string   `json:"peer"`
	Addrs     []string `json:"addrs"`
	Connected bool     `json:"connected"`
	// Attempts counts the failed dials since the last successful one.
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"last_error,omitempty"`
	LastAttempt   time.Time `json:"last_attempt,omitzero"`
	LastConnected time.Time `json:"last_connected,omitzero"`
	// NextRetry is when the peer is dialled again; absent when no dial is
	// scheduled.
	NextRetry time.Time `json:"next_retry,omitzero"`
}

// RendezvousPeers is the answer of GET /v1/discover/peers: the other peers
// that joined a rendezvous topic.
type RendezvousPeers struct {
	Topic string     `json:"topic"`
	Peers []Provider `json:"peers"`
}

// Event payloads of discovery.

// PeerDiscoveredEvent is the data of peer.discovered: the first time a peer
// is learnt of from a source.
type PeerDiscoveredEvent struct {
	Peer   string   `json:"peer"`
	Source string   `json:"source"`
	Addrs  []string `json:"addrs"`
}

// BootstrapFailedEvent is the data of bootstrap.failed: a dial to a
// configured bootstrap peer failed.
type BootstrapFailedEvent struct {
	Peer      string    `json:"peer"`
	Error     string    `json:"error"`
	Attempts  int       `json:"attempts"`
	NextRetry time.Time `json:"next_retry"`
}

// RendezvousEvent is the data of rendezvous.joined and rendezvous.left.
type RendezvousEvent struct {
	Topic string `json:"topic"`
}

// Routing: the Kademlia DHT's table, lookups and the crawler.

// RoutingEntry is one peer of the Kademlia routing table (GET /v1/dht/table).
type RoutingEntry struct {
	Bucket     int       `json:"bucket"` // common prefix length with this node's key
	PeerID     string    `json:"peer_id"`
	Addr       string    `json:"addr,omitempty"` // of an open connection, else a known one
	Connected  bool      `json:"connected"`
	AddedAt    time.Time `json:"added_at"`
	LastUseful time.Time `json:"last_useful,omitzero"` // absent: never useful yet
}

// FoundPeer is the answer of GET /v1/dht/findpeer.
type FoundPeer struct {
	PeerID     string   `json:"peer_id"`
	Addrs      []string `json:"addrs"`
	Via        string   `json:"via"` // "connected", "peerstore" or "dht"
	DurationMS float64  `json:"duration_ms"`
}

// ClosestPeers is the answer of GET /v1/dht/closest.
type ClosestPeers struct {
	Key        string   `json:"key"`
	Peers      []string `json:"peers"`
	DurationMS float64  `json:"duration_ms"`
}

// DHTStatus is the answer of GET /v1/dht/status: the node's DHTs.
type DHTStatus struct {
	// Amino is true when the node runs the Amino DHT (/ipfs/kad/1.0.0,
	// the public IPFS DHT) next to its Plexus DHT (dht.amino).
	Amino bool `json:"amino"`
	// DHTs are the Plexus DHT, then the Amino DHT when it is on.
	DHTs []DHTSummary `json:"dhts"`
}

// DHTSummary is one DHT of DHTStatus.
type DHTSummary struct {
	Name      string `json:"name"`       // "plexus" or "amino"
	Protocol  string `json:"protocol"`   // e.g. /plexus/kad/1.0.0, /ipfs/kad/1.0.0
	Mode      string `json:"mode"`       // "server" or "client", now
	TableSize int    `json:"table_size"` // peers in its routing table
}

// ExploreProgress is the data of a "progress" event of GET /v1/explore
// asked for with "Accept: text/event-stream".
type ExploreProgress struct {
	Phase     string  `json:"phase"`    // "crawl" (asking nodes for their routing tables), then "identify"
	Found     int     `json:"found"`    // nodes seen so far, this node included
	Dialable  int     `json:"dialable"` // nodes that answered the crawler
	Failed    int     `json:"failed"`   // nodes the crawler could not query
	Identify  int     `json:"identify"` // nodes connected to in the identify phase
	ElapsedMS float64 `json:"elapsed_ms"`
}

// ExploreReport is the answer of GET /v1/explore: every node the crawl
// reached from this node's routing table.
type ExploreReport struct {
	Self       string    `json:"self"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	// Complete is false when a timeout cut the crawl short.
	Complete   bool `json:"complete"`
	Total      int  `json:"total"`
	Dialable   int  `json:"dialable"`
	Undialable int  `json:"undialable"`
	// Nodes lists every node seen, this node first, then by peer ID.
	Nodes []ExploreNode `json:"nodes"`
}

// ExploreNode is one node of an ExploreReport.
type ExploreNode struct {
	PeerID       string   `json:"peer_id"`
	Self         bool     `json:"self,omitempty"`
	Addrs        []string `json:"addrs"`
	AgentVersion string   `json:"agent_version,omitempty"`
	Protocols    []string `json:"protocols,omitempty"`
	// Dialable: the crawler connected to the node and it answered DHT
	// requests.
	Dialable bool `json:"dialable"`
	// Neighbours are the peers of the node's routing table, as it reported
	// them.
	Neighbours []string `json:"neighbours,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// RoutingEvent is the data of routing.peer_added and routing.peer_removed.
type RoutingEvent struct {
	PeerID string `json:"peer_id"`
	// Size is the routing table's size after the change.
	Size int `json:"size"`
}
