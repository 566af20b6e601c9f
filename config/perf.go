package config

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Perf configures the libp2p perf protocol service (/perf/1.0.0).
//
// Perf makes this node send as many bytes as a peer asks for, so the
// default profile does not serve it (issue 20: an anonymous 8-byte request
// got 1 GiB back); the local profile does, for benchmarks. A node that
// serves it caps one exchange at max_bytes and may serve only allow_peers.
type Perf struct {
	Enabled    bool     `toml:"enabled" comment:"Serve the libp2p perf protocol (/perf/1.0.0) so peers can measure throughput to this node; at most 16 transfers at once, 2 per peer. Default false (true in the local profile): any peer could make the node send up to max_bytes per request."`
	MaxBytes   int      `toml:"max_bytes" comment:"Largest upload or download of one perf exchange this node serves, in bytes; bigger requests are refused before any byte is sent. 1 to 17179869184 (16 GiB). Default 67108864 (64 MiB); 17179869184 in the local profile."`
	AllowPeers []string `toml:"allow_peers" comment:"Peer IDs served when enabled; others are refused. Empty: every peer. Default []."`
}

// Perf limits, written once: package perf serves at most
// DefaultPerfMaxStreams transfers at once, and the node runs perf exchanges
// of at most MaxPerfBytes in each direction.
const (
	// DefaultPerfMaxStreams is how many perf streams the service handles at once.
	DefaultPerfMaxStreams = 16
	// MaxPerfBytes bounds one perf transfer that the node runs, in each
	// direction (16 GiB), and perf.max_bytes.
	MaxPerfBytes = 16 << 30
	// DefaultPerfBytes is what the CLI uploads and downloads when not told (64 MiB).
	DefaultPerfBytes = 64 << 20
	// DefaultPerfMaxBytes is the default perf.max_bytes: the CLI's default
	// exchange is served, a gigabyte is not (64 MiB).
	DefaultPerfMaxBytes = 64 << 20
)

func defaultPerf() Perf {
	return Perf{Enabled: false, MaxBytes: DefaultPerfMaxBytes, AllowPeers: []string{}}
}

func (c *Config) validatePerf() []error {
	p := c.Perf
	var errs []error
	if p.MaxBytes < 1 || p.MaxBytes > MaxPerfBytes {
		errs = append(errs, fmt.Errorf("perf.max_bytes: %d is outside 1..%d", p.MaxBytes, MaxPerfBytes))
	}
	for _, s := range p.AllowPeers {
		if _, err := peer.Decode(s); err != nil {
			errs = append(errs, fmt.Errorf("perf.allow_peers: %q is not a peer ID: %w", s, err))
		}
	}
	return errs
}
