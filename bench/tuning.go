package bench

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	goyamux "github.com/libp2p/go-yamux/v5"

	"github.com/plexus-p2p/plexus/node"
)

// Variant is one interoperable tweak of a libp2p stack whose throughput the
// tuning section compares with the same stack's defaults. Every tweak is
// local: yamux window and frame sizes, perf buffer sizes and the resource
// manager do not change what goes on the wire beyond frame boundaries.
type Variant struct {
	Name        string `json:"name"`
	Stack       Stack  `json:"stack"`
	Description string `json:"description"`
	// Yamux edits a copy of go-libp2p's yamux.DefaultTransport config.
	Yamux                func(*goyamux.Config) `json:"-"`
	ClientBuf, ServerBuf int                   `json:"-"`
	NullResourceManager  bool                  `json:"-"`
}

// yamuxWith returns a Plexus host's yamux transport (node.Yamux()) with
// edit applied.
func yamuxWith(edit func(*goyamux.Config)) *yamux.Transport {
	cfg := *(*goyamux.Config)(node.Yamux())
	edit(&cfg)
	return (*yamux.Transport)(&cfg)
}

// HostConfig returns the host configuration the variant runs with.
func (v Variant) HostConfig() HostConfig {
	hc := HostConfig{Stack: v.Stack}
	if v.Yamux != nil {
		hc.Yamux = yamuxWith(v.Yamux)
	}
	if v.NullResourceManager {
		hc.ResourceManager = &network.NullResourceManager{}
	}
	return hc
}

// libp2pMessage is go-libp2p's default yamux MaxMessageSize: a frame
// (header included) of four full TLS records, or one full Noise message and
// one of 17 bytes.
const libp2pMessage = 64 << 10

// TuningVariants lists the variants the report measures.
func TuningVariants() []Variant {
	var vs []Variant
	for _, s := range []Stack{StackTCPNoise, StackTCPTLS} {
		vs = append(vs,
			Variant{Name: "default", Stack: s, Description: "Plexus defaults (node.Yamux: go-libp2p's yamux with 65519-byte frames, one Noise message each; window 16 MiB; perf buffers 256 KiB)"},
			Variant{Name: "frame-64k", Stack: s, Description: "go-libp2p's yamux MaxMessageSize 64 KiB: one frame = four full TLS records, or two Noise messages",
				Yamux: func(c *goyamux.Config) { c.MaxMessageSize = libp2pMessage }},
			Variant{Name: "frame-256k", Stack: s, Description: "yamux MaxMessageSize 256 KiB",
				Yamux: func(c *goyamux.Config) { c.MaxMessageSize = 256 << 10 }},
			Variant{Name: "frame-1m", Stack: s, Description: "yamux MaxMessageSize 1 MiB",
				Yamux: func(c *goyamux.Config) { c.MaxMessageSize = 1 << 20 }},
			Variant{Name: "window-1m", Stack: s, Description: "yamux MaxStreamWindowSize 1 MiB (buffered data stays in cache; caps a stream at 84 Mbit/s over 100 ms RTT)",
				Yamux: func(c *goyamux.Config) { c.MaxStreamWindowSize = 1 << 20 }},
			Variant{Name: "window-4m", Stack: s, Description: "yamux MaxStreamWindowSize 4 MiB",
				Yamux: func(c *goyamux.Config) { c.MaxStreamWindowSize = 4 << 20 }},
			Variant{Name: "window-64m", Stack: s, Description: "yamux MaxStreamWindowSize 64 MiB",
				Yamux: func(c *goyamux.Config) { c.MaxStreamWindowSize = 64 << 20 }},
			Variant{Name: "perf-buf-64k", Stack: s, Description: "perf client and server buffers 64 KiB", ClientBuf: 64 << 10, ServerBuf: 64 << 10},
			Variant{Name: "perf-buf-1m", Stack: s, Description: "perf client and server buffers 1 MiB", ClientBuf: 1 << 20, ServerBuf: 1 << 20},
			Variant{Name: "null-rcmgr", Stack: s, Description: "no resource manager (NullResourceManager)", NullResourceManager: true},
		)
	}
	return vs
}

// MemoryVariants lists the idle-connection memory variants the report
// measures.
func MemoryVariants() []Variant {
	var vs []Variant
	for _, s := range []Stack{StackTCPNoise, StackTCPTLS} {
		vs = append(vs,
			Variant{Name: "default", Stack: s, Description: "Plexus defaults (yamux AcceptBacklog 256)"},
			Variant{Name: "accept-backlog-64", Stack: s, Description: "yamux AcceptBacklog 64 (also caps un-acknowledged outbound streams at 64)",
				Yamux: func(c *goyamux.Config) { c.AcceptBacklog = 64 }},
		)
	}
	return vs
}
