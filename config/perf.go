package config

// Perf configures the libp2p perf protocol service (/perf/1.0.0).
type Perf struct {
	Enabled bool `toml:"enabled" comment:"Serve the libp2p perf protocol (/perf/1.0.0) so peers can measure throughput to this node; at most 16 transfers at once. Default true."`
}
