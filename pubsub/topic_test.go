package pubsub_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	coredisc "github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/discovery"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/pubsub"
)

// topicSeeds are topic names at the edges of the rule: lengths around both
// limits, and characters that one rule or the other used to treat differently.
var topicSeeds = []string{
	"", "chat", "chat room", "日本語/チャット", "🎉", "floodsub:x",
	strings.Repeat("a", pubsub.MaxTopicLen),
	strings.Repeat("a", pubsub.MaxTopicLen+1),
	strings.Repeat("a", discovery.MaxTopicLen),
	strings.Repeat("a", pubsub.MaxTopicLen-1) + "é", // 248 bytes
	"chat\xff", "chat\nroom", "chat\x00", "chat\x7f", "a\tb",
	"no\u00a0break",   // non-breaking space
	"zero\u200bwidth", // format character
	"app\u202ex",      // bidi override
	"line\u2028sep",
	"\ufeffbom",
	"\x1b[31mred", // escape sequence
	" ", "   ", " chat", "chat ",
}

// checkTopicAgreement fails unless a topic name pub/sub accepts is accepted by
// DHT rendezvous under the namespace go-libp2p-pubsub advertises it with, and
// a non-empty name pub/sub refuses is refused there too. Two names are the
// exceptions, because the prefix changes what is at the start of the name:
// the empty name has the non-empty namespace "floodsub:", and a name that
// starts with a space (refused: names are not padded) has a namespace with
// the space inside.
func checkTopicAgreement(t *testing.T, name string) {
	t.Helper()
	ns := "floodsub:" + name
	psErr := pubsub.ValidateTopicName(name)
	rvErr := discovery.ValidateTopic(ns)
	if psErr != nil && !errors.Is(psErr, pubsub.ErrInvalidTopic) {
		t.Fatalf("ValidateTopicName(%q) = %v, not ErrInvalidTopic", name, psErr)
	}
	switch {
	case psErr == nil && rvErr != nil:
		t.Fatalf("pub/sub accepts %q but rendezvous refuses its namespace: %v", name, rvErr)
	case name == "":
		if psErr == nil {
			t.Fatal("pub/sub accepts the empty topic")
		}
	case psErr != nil && rvErr == nil && !strings.HasPrefix(name, " "):
		t.Fatalf("pub/sub refuses %q (%v) but rendezvous accepts its namespace", name, psErr)
	}
}

func TestTopicNamesAgreeWithRendezvous(t *testing.T) {
	for _, name := range topicSeeds {
		checkTopicAgreement(t, name)
	}
	want := map[string]bool{
		strings.Repeat("a", pubsub.MaxTopicLen):   true,
		strings.Repeat("a", pubsub.MaxTopicLen+1): false,
		"chat room":       true,
		"🎉":               true,
		"no\u00a0break":   false,
		"app\u202ex":      false,
		"chat\nroom":      false,
		"日本語/チャット":        true,
		"zero\u200bwidth": false,
		"":                false,
		"floodsub:x":      true,
		"chat\xff":        false,
		"chat\x7f":        false,
		"\ufeffbom":       false,
		"line\u2028sep":   false,
		"a\tb":            false,
		"chat\x00":        false,
		"chat":            true,
		"\x1b[31mred":     false,
		" ":               false,
		"   ":             false,
		" chat":           false,
		"chat ":           false,
	}
	for name, ok := range want {
		if got := pubsub.ValidateTopicName(name) == nil; got != ok {
			t.Errorf("ValidateTopicName(%.40q) accepts = %v, want %v", name, got, ok)
		}
	}
}

func FuzzTopicNamesAgreeWithRendezvous(f *testing.F) {
	for _, s := range topicSeeds {
		f.Add(s)
	}
	f.Fuzz(checkTopicAgreement)
}

// validatingRendezvous is an in-memory rendezvous that applies discovery's
// namespace rule and records every namespace it is asked for.
type validatingRendezvous struct {
	mu    sync.Mutex
	asked map[string]error
}

func (r *validatingRendezvous) record(ns string) error {
	err := discovery.ValidateTopic(ns)
	r.mu.Lock()
	r.asked[ns] = err
	r.mu.Unlock()
	return err
}

func (r *validatingRendezvous) Advertise(_ context.Context, ns string, _ ...coredisc.Option) (time.Duration, error) {
	if err := r.record(ns); err != nil {
		return 0, err
	}
	return time.Hour, nil
}

func (r *validatingRendezvous) FindPeers(_ context.Context, ns string, _ ...coredisc.Option) (<-chan peer.AddrInfo, error) {
	if err := r.record(ns); err != nil {
		return nil, err
	}
	ch := make(chan peer.AddrInfo)
	close(ch)
	return ch, nil
}

// The namespace go-libp2p-pubsub really advertises a topic of the longest
// accepted name under is accepted by rendezvous.
func TestTopicOfMaxLengthIsAdvertised(t *testing.T) {
	hosts := testnet.Mocknet(t, 1)
	r := &validatingRendezvous{asked: map[string]error{}}
	s := newService(t, hosts[0], pubsub.WithDiscovery(r))
	name := strings.Repeat("t", pubsub.MaxTopicLen)
	if err := s.Join(name); err != nil {
		t.Fatal(err)
	}
	ns := "floodsub:" + name
	testnet.Eventually(t, 5*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		_, ok := r.asked[ns]
		return ok
	}, "the topic was not advertised")
	r.mu.Lock()
	defer r.mu.Unlock()
	for asked, err := range r.asked {
		if asked != ns {
			t.Errorf("asked for namespace %.40q, want %.40q", asked, ns)
		}
		if err != nil {
			t.Errorf("rendezvous refused the namespace of a %d-byte topic: %v", len(name), err)
		}
	}
}
