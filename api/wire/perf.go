package wire

// PerfRequest is the body of POST /v1/perf.
type PerfRequest struct {
	Target    string `json:"target"`              // peer ID or full multiaddr
	Upload    uint64 `json:"upload"`              // bytes to send
	Download  uint64 `json:"download"`            // bytes to receive
	Transport string `json:"transport,omitempty"` // tcp, quic or ws: measure over that transport
}

// PerfResult is the answer of POST /v1/perf: what one libp2p perf exchange
// measured.
type PerfResult struct {
	UploadBytes   uint64 `json:"upload_bytes"`
	DownloadBytes uint64 `json:"download_bytes"`
	// TimeToFirstByteMS runs from the start (before the stream, and a
	// connection if there was none, is opened) to the first response byte;
	// 0 when nothing was downloaded.
	TimeToFirstByteMS float64 `json:"time_to_first_byte_ms"`
	// UploadDurationMS runs from the first write until the server had
	// drained the upload.
	UploadDurationMS float64 `json:"upload_duration_ms"`
	// DownloadDurationMS runs from the first response byte to the end.
	DownloadDurationMS float64 `json:"download_duration_ms"`
	TotalMS            float64 `json:"total_ms"`
	// Throughputs in bits per second; 0 when nothing was moved.
	UploadBPS   float64 `json:"upload_bps"`
	DownloadBPS float64 `json:"download_bps"`
	BPS         float64 `json:"bps"` // (upload+download)*8/total
}

// PerfProgress is the data of a "progress" event of POST /v1/perf asked
// for with "Accept: text/event-stream": how far one phase has got.
type PerfProgress struct {
	Phase      string  `json:"phase"`       // "upload", then "download"
	Bytes      uint64  `json:"bytes"`       // moved so far in this phase
	TotalBytes uint64  `json:"total_bytes"` // the phase's size
	ElapsedMS  float64 `json:"elapsed_ms"`  // since the phase began
	BPS        float64 `json:"bps"`         // bits per second so far in this phase
}

// PerfServedEvent is the data of the perf.served event: this node served a
// perf exchange (or refused or failed one).
type PerfServedEvent struct {
	Peer            string  `json:"peer"`
	UploadedBytes   uint64  `json:"uploaded_bytes"`
	DownloadedBytes uint64  `json:"downloaded_bytes"`
	RequestedBytes  uint64  `json:"requested_bytes"`
	DurationMS      float64 `json:"duration_ms"`
	Error           string  `json:"error,omitempty"` // empty when the exchange completed
}
