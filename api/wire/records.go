package wire

import "time"

// PutRequest is the body of POST /v1/dht/put.
type PutRequest struct {
	Name  string `json:"name"`
	Value []byte `json:"value"` // base64 in JSON
	// TTLMS is the record's lifetime in milliseconds, from 60000 (1m) to
	// 31536000000 (8760h); absent: the node's configured default (24h).
	// An explicit 0 is refused, not taken for the default.
	TTLMS *float64 `json:"ttl_ms,omitempty"`
}

// Record is a record of the DHT (POST /v1/dht/put, GET /v1/dht/get,
// GET /v1/dht/records): a signed Plexus record, or, from GET /v1/dht/get, a
// record of another namespace the node validates and serves: "pk" (the
// value is a libp2p public key, crypto.MarshalPublicKey bytes) or "ipns"
// (the value is an IPNS record, protobuf). Name, Seq and EOL belong to
// Plexus records and are absent for the others.
type Record struct {
	// Key is /plexus/<owner>/<name>, /pk/<owner> or /ipns/<name> (the name
	// as a CIDv1 in base36).
	Key       string    `json:"key"`
	Namespace string    `json:"namespace"`       // "plexus", "pk" or "ipns"
	Owner     string    `json:"owner,omitempty"` // peer ID of the signer (pk, ipns: of the key)
	Name      string    `json:"name,omitempty"`
	Value     []byte    `json:"value"`         // base64 in JSON
	Seq       uint64    `json:"seq,omitempty"` // the highest seq wins
	EOL       time.Time `json:"eol,omitzero"`  // end of validity
}

// KeyRequest is the body of POST /v1/dht/provide.
type KeyRequest struct {
	Key string `json:"key"` // any string, or a CID
}

// ProvideResult is the answer of POST /v1/dht/provide.
type ProvideResult struct {
	Key string `json:"key"`
	CID string `json:"cid"` // the key's CID on the DHT
}

// Provision is a key this node provides and re-announces (GET /v1/dht/provided).
type Provision struct {
	Key   string    `json:"key"`
	CID   string    `json:"cid"`
	Since time.Time `json:"since"` // when it was first provided
}

// RecordEvent is the data of the record.put and record.got events; as in
// Record, name, seq and eol are absent for namespaces other than "plexus".
type RecordEvent struct {
	Key       string    `json:"key"`
	Namespace string    `json:"namespace"`
	Owner     string    `json:"owner,omitempty"`
	Name      string    `json:"name,omitempty"`
	Seq       uint64    `json:"seq,omitempty"`
	EOL       time.Time `json:"eol,omitzero"`
	Size      int       `json:"size"` // bytes of value
}

// ProviderEvent is the data of the provider.added event.
type ProviderEvent struct {
	Key string `json:"key"`
	CID string `json:"cid"`
}
