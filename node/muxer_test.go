package node

import (
	"testing"

	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	goyamux "github.com/libp2p/go-yamux/v5"
)

// TestYamuxFramesAreOneNoiseMessage: a Plexus host cuts Yamux frames
// (header included) to exactly one Noise transport message and keeps every
// other go-libp2p default.
func TestYamuxFramesAreOneNoiseMessage(t *testing.T) {
	got := *(*goyamux.Config)(Yamux())
	if err := goyamux.VerifyConfig(&got); err != nil {
		t.Fatalf("invalid yamux config: %v", err)
	}
	if got.MaxMessageSize != noise.MaxPlaintextLength {
		t.Errorf("MaxMessageSize %d, want one Noise message's plaintext, %d", got.MaxMessageSize, noise.MaxPlaintextLength)
	}
	want := *(*goyamux.Config)(yamux.DefaultTransport)
	got.MaxMessageSize, want.MaxMessageSize = 0, 0
	if got != want {
		t.Errorf("other settings differ from go-libp2p's:\n got %+v\nwant %+v", got, want)
	}
	if Yamux() == yamux.DefaultTransport || (*goyamux.Config)(yamux.DefaultTransport).MaxMessageSize != 64<<10 {
		t.Error("Yamux changed go-libp2p's shared DefaultTransport")
	}
}
