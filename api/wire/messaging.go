package wire

import "time"

// SendRequest is the body of POST /v1/send.
type SendRequest struct {
	Peer     string `json:"peer"`     // peer ID
	Protocol string `json:"protocol"` // e.g. /app/recipes/1.0.0
	Data     []byte `json:"data"`     // base64 in JSON
}

// SendResult is the answer of POST /v1/send.
type SendResult struct {
	PeerID   string `json:"peer_id"`
	Protocol string `json:"protocol"`
	Data     []byte `json:"data"` // base64 in JSON
	// DurationMS is how long the request took once connected to the peer.
	DurationMS float64 `json:"duration_ms"`
}

// HandlerRequest is the body of POST /v1/handlers: forward every request
// for Protocol to URL (HTTP POST, body = request bytes, headers
// X-Plexus-Peer and X-Plexus-Protocol; the 2xx response body is the answer).
// POST and DELETE /v1/handlers answer it back.
type HandlerRequest struct {
	Protocol string `json:"protocol"`
	URL      string `json:"url"`
}

// Handler is one registered protocol handler (GET /v1/handlers).
type Handler struct {
	Protocol   string    `json:"protocol"`
	Kind       string    `json:"kind"`          // "go" or "http"
	URL        string    `json:"url,omitempty"` // target of an "http" handler
	Registered time.Time `json:"registered"`
	Handled    uint64    `json:"handled"` // requests answered successfully
	Failed     uint64    `json:"failed"`  // requests that failed in any way
}

// RequestHandledEvent is the data of the request.handled event: an inbound
// request was answered successfully.
type RequestHandledEvent struct {
	Protocol   string  `json:"protocol"`
	Peer       string  `json:"peer"` // the caller
	BytesIn    int     `json:"bytes_in"`
	BytesOut   int     `json:"bytes_out"`
	DurationMS float64 `json:"duration_ms"`
}

// RequestFailedEvent is the data of the request.failed event: an inbound or
// outbound request failed.
type RequestFailedEvent struct {
	Protocol  string `json:"protocol"`
	Peer      string `json:"peer"` // the caller (inbound) or the callee (outbound)
	Error     string `json:"error"`
	Direction string `json:"direction"` // "inbound" or "outbound"
}
