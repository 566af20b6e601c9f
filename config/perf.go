package config

// Perf configures the libp2p perf protocol service (/perf/1.0.0).
type Perf struct {
	Enabled bool `toml:"enabled" comment:"Serve the libp2p perf protocol (/perf/1.0.0) so peers can measure throughput to this node; at most 16 transfers at once. Default true."`
}

// Perf limits, written once: package perf serves at most
// DefaultPerfMaxStreams transfers at once, and the node runs perf exchanges
// of at most MaxPerfBytes in each direction.
const (
	// DefaultPerfMaxStreams is how many perf streams the service handles at once.
	DefaultPerfMaxStreams = 16
	// MaxPerfBytes bounds one perf transfer that the node runs, in each
	// direction (16 GiB).
	MaxPerfBytes = 16 << 30
	// DefaultPerfBytes is what the CLI uploads and downloads when not told (64 MiB).
	DefaultPerfBytes = 64 << 20
)
