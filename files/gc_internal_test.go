package files

import (
	"context"
	"io"
	"log/slog"
	"testing"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

// GC waits for an add in progress: the blocks written so far are not
// reachable from any pin yet, and must survive.
func TestGCWaitsForAddInProgress(t *testing.T) {
	s, err := New(nil, dssync.MutexWrap(datastore.NewMapDatastore()), nil,
		WithBlocksDir(t.TempDir()), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()

	pr, pw := io.Pipe()
	type result struct {
		a   Added
		err error
	}
	added := make(chan result, 1)
	go func() {
		a, err := s.Add(ctx, bfiles.NewReaderFile(pr), AddOptions{Pin: true})
		added <- result{a, err}
	}()
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>18) // every 256 KiB chunk differs
	}
	if _, err := pw.Write(data[:2<<20]); err != nil { // 8 chunks read: the add is under way
		t.Fatal(err)
	}

	gcDone := make(chan GCResult, 1)
	go func() {
		res, err := s.GC(ctx)
		if err != nil {
			t.Error(err)
		}
		gcDone <- res
	}()
	// Once GC waits for the lock, no new operation gets a share of it.
	for s.gcLock.TryAcquire(1) {
		s.gcLock.Release(1)
		select {
		case res := <-gcDone:
			t.Fatalf("GC finished (%+v) while an add was in progress", res)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		default:
		}
	}
	if _, err := pw.Write(data[2<<20:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-added
	if r.err != nil {
		t.Fatal(r.err)
	}
	if res := <-gcDone; res.Blocks != 0 {
		t.Fatalf("GC removed %d blocks of the add", res.Blocks)
	}
	st, err := s.Stat(context.Background(), r.a.CID)
	if err != nil || !st.Local || st.Blocks != 13 {
		t.Fatalf("after add and gc: %+v %v, want all 13 blocks local", st, err)
	}
}
