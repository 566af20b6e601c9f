package daemon

import (
	"testing"

	"github.com/plexus-p2p/plexus/config"
)

// The API accepts a request carrying the largest message the config allows.
func TestMaxBodyBytesFitsTheLargestMessage(t *testing.T) {
	c := config.Default()
	if got := maxBodyBytes(c); got != 4<<20 {
		t.Fatalf("default config: %d, want the 4 MiB default", got)
	}
	c.PubSub.MaxMessageSize = config.MaxPubSubMaxMessageSize
	if got, need := maxBodyBytes(c), int64(config.MaxPubSubMaxMessageSize)*4/3; got < need {
		t.Fatalf("64 MiB messages: body limit %d < %d (base64 of the message)", got, need)
	}
}
