package wire

import "time"

// Files: content-addressed UnixFS files and directories (IPFS compatible).
// CIDs are CIDv1 strings (base32); sizes are bytes of file content.

// Added is the answer of POST /v1/files/add and the data of the files.added
// event.
type Added struct {
	CID    string `json:"cid"`
	Size   uint64 `json:"size"`   // file bytes (the sum over a directory)
	Blocks int    `json:"blocks"` // blocks of the DAG
}

// CIDRequest is the body of POST /v1/files/fetch, /v1/files/pin and
// /v1/files/unpin.
type CIDRequest struct {
	CID string `json:"cid"`
}

// FetchProgress is the progress of POST /v1/files/fetch (asked with
// "Accept: text/event-stream") and the data of the files.fetch.progress
// event (with CID set).
type FetchProgress struct {
	CID         string `json:"cid,omitempty"`
	Bytes       uint64 `json:"bytes"`
	TotalBytes  uint64 `json:"total_bytes"` // 0 while unknown
	Blocks      int    `json:"blocks"`
	TotalBlocks int    `json:"total_blocks"` // 0 while unknown
	Peers       int    `json:"peers"`        // peers that served blocks so far
}

// Fetched is the answer of POST /v1/files/fetch (the whole DAG is local)
// and the data of the files.fetched event.
type Fetched struct {
	CID        string  `json:"cid"`
	Bytes      uint64  `json:"bytes"`  // bytes fetched now (blocks already local are not counted)
	Blocks     int     `json:"blocks"` // blocks fetched now
	Peers      int     `json:"peers"`  // peers that served them
	DurationMS float64 `json:"duration_ms"`
}

// FileEntry is one entry of GET /v1/files/ls: a directory's entries, or the
// file itself.
type FileEntry struct {
	Name string `json:"name"`
	CID  string `json:"cid"`
	Size uint64 `json:"size"`
	Dir  bool   `json:"dir"`
}

// FileStat is the answer of GET /v1/files/stat.
type FileStat struct {
	CID         string `json:"cid"`
	Dir         bool   `json:"dir"`
	Size        uint64 `json:"size"`         // file bytes (a directory: the whole DAG, when known)
	Blocks      int    `json:"blocks"`       // blocks of the DAG, 0 until the DAG is local
	LocalBlocks int    `json:"local_blocks"` // blocks stored on this node
	Local       bool   `json:"local"`        // the whole DAG is on this node
	Pinned      bool   `json:"pinned"`
}

// Pin is one pinned root (GET /v1/files/pins; the answer of the pin and
// unpin routes, where Since is omitted).
type Pin struct {
	CID   string     `json:"cid"`
	Since *time.Time `json:"since,omitempty"`
}

// GCResult is the answer of POST /v1/files/gc: what garbage collection
// removed.
type GCResult struct {
	Blocks int    `json:"blocks"`
	Bytes  uint64 `json:"bytes"`
}

// ProvidedEvent is the data of the files.provided event: the node announced
// a root on the DHT.
type ProvidedEvent struct {
	CID string `json:"cid"`
}
