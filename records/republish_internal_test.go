package records

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/routing"
)

// putRecorder is a Routing that keeps what is put and finds nothing.
type putRecorder struct {
	routing.ContentRouting
	mu   sync.Mutex
	puts map[string][]byte
}

func (r *putRecorder) PutValue(_ context.Context, key string, value []byte, _ ...routing.Option) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.puts[key] = value
	return nil
}

func (r *putRecorder) GetValue(context.Context, string, ...routing.Option) ([]byte, error) {
	return nil, routing.ErrNotFound
}

func (r *putRecorder) SearchValue(context.Context, string, ...routing.Option) (<-chan []byte, error) {
	return nil, routing.ErrNotFound
}

// An own record saved with a TTL outside today's bounds (an older version
// accepted 1ns) is republished with the configured TTL: with its own, it
// would expire in flight and the republisher would run every TTL/2, that is
// without pause.
func TestRepublishStaleTTL(t *testing.T) {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	d := &putRecorder{puts: map[string][]byte{}}
	s, err := New(d, k, ds, WithTTL(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	old, err := NewRecord(k, "stale", []byte("v"), 4, time.Now().Add(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	data, err := old.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := json.Marshal(ownState{Record: data, TTL: time.Nanosecond})
	if err := ds.Put(t.Context(), ownKey("stale"), st); err != nil {
		t.Fatal(err)
	}

	minTTL, err := s.republish(t.Context())
	if err != nil || minTTL != 2*time.Hour {
		t.Fatalf("republish: shortest TTL %s, %v; want the configured 2h", minTTL, err)
	}
	sent, ok := d.puts[old.Key]
	if !ok {
		t.Fatalf("nothing put under %s", old.Key)
	}
	rec, err := RecordValidator{}.Decode(old.Key, sent)
	if err != nil {
		t.Fatalf("republished record: %v", err)
	}
	if rec.Seq != 4 || time.Until(rec.EOL) < time.Hour {
		t.Fatalf("republished seq %d, EOL in %s; want seq 4 and about 2h", rec.Seq, time.Until(rec.EOL).Round(time.Second))
	}
}
