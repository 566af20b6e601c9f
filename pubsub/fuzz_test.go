package pubsub_test

import (
	"errors"
	"testing"

	"github.com/plexus-p2p/plexus/pubsub"
)

// FuzzValidateTopicName checks topic names from the API and the CLI: a
// refusal wraps ErrInvalidTopic, and an accepted name fits MaxTopicLen.
// (Pub/sub payloads are opaque bytes: Plexus decodes no typed message, and
// gossipsub's own protobuf frames are decoded by go-libp2p-pubsub.)
func FuzzValidateTopicName(f *testing.F) {
	for _, s := range []string{"chat", "", " x", "x\x00", "a\u202eb", "/plexus/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := pubsub.ValidateTopicName(s)
		if err != nil && !errors.Is(err, pubsub.ErrInvalidTopic) {
			t.Fatalf("refusal of %q does not wrap ErrInvalidTopic: %v", s, err)
		}
		if err == nil && (len(s) == 0 || len(s) > pubsub.MaxTopicLen) {
			t.Fatalf("accepted %q (%d bytes)", s, len(s))
		}
	})
}
