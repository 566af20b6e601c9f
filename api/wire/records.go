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

// Record is a signed record (POST /v1/dht/put, GET /v1/dht/get,
// GET /v1/dht/records).
type Record struct {
	Key   string    `json:"key"`   // /plexus/<owner>/<name>
	Owner string    `json:"owner"` // peer ID of the signer
	Name  string    `json:"name"`
	Value []byte    `json:"value"` // base64 in JSON
	Seq   uint64    `json:"seq"`   // the highest seq wins
	EOL   time.Time `json:"eol"`   // end of validity
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

// RecordEvent is the data of the record.put and record.got events.
type RecordEvent struct {
	Key   string    `json:"key"`
	Owner string    `json:"owner"`
	Name  string    `json:"name"`
	Seq   uint64    `json:"seq"`
	EOL   time.Time `json:"eol"`
	Size  int       `json:"size"` // bytes of value
}

// ProviderEvent is the data of the provider.added event.
type ProviderEvent struct {
	Key string `json:"key"`
	CID string `json:"cid"`
}
