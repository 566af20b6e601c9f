package node

import (
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	goyamux "github.com/libp2p/go-yamux/v5"
)

// noiseMaxPlaintext is the most plaintext one Noise transport message holds
// (65535 bytes less the 16-byte ChaCha20-Poly1305 tag).
const noiseMaxPlaintext = 65535 - 16

// Yamux returns the muxer transport of a Plexus host: go-libp2p's default
// Yamux configuration (16 MiB stream windows, no read buffer over the
// security layer) with frames of at most 65519 bytes, header included, so
// that one frame is exactly one Noise transport message. With go-libp2p's
// 64 KiB frames every frame took two Noise messages, the second of 17
// bytes: two encryptions, two TCP writes and on the reader's side a short
// message that costs a read of its own. Over TLS the frame is still four
// records. It changes only where we cut frames, which is each sender's
// choice: a Yamux receiver checks a frame against its window only (the
// interop suite's Noise+Yamux checks against js-libp2p pass with it).
func Yamux() *yamux.Transport {
	cfg := *(*goyamux.Config)(yamux.DefaultTransport)
	cfg.MaxMessageSize = noiseMaxPlaintext
	return (*yamux.Transport)(&cfg)
}
