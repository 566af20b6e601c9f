package files_test

import (
	"errors"
	"testing"

	"github.com/plexus-p2p/plexus/files"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestPinUnpinGC(t *testing.T) {
	s := newService(t, nil, nil)
	ctx := t.Context()
	pinned := addBytes(t, s, randomBytes(20, 700<<10), files.AddOptions{Pin: true})
	loose := addBytes(t, s, randomBytes(21, 500<<10), files.AddOptions{Pin: false})

	pins, err := s.Pins(ctx)
	if err != nil || len(pins) != 1 || pins[0].CID != pinned.CID || pins[0].Since.IsZero() {
		t.Fatalf("pins %+v (%v), want just %s", pins, err, pinned.CID)
	}
	res, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocks != loose.Blocks || res.Bytes < 500<<10 {
		t.Fatalf("gc removed %d blocks, want the %d of the unpinned add", res.Blocks, loose.Blocks)
	}
	st, err := s.Stat(ctx, pinned.CID)
	if err != nil || !st.Local || !st.Pinned {
		t.Fatalf("pinned file after gc: %+v %v", st, err)
	}

	if err := s.Unpin(ctx, pinned.CID); err != nil {
		t.Fatal(err)
	}
	if err := s.Unpin(ctx, pinned.CID); !errors.Is(err, files.ErrNotPinned) {
		t.Fatalf("second unpin: %v, want ErrNotPinned", err)
	}
	res, err = s.GC(ctx)
	if err != nil || res.Blocks != pinned.Blocks {
		t.Fatalf("gc after unpin removed %+v (%v), want %d blocks", res, err, pinned.Blocks)
	}
	// Offline, a removed DAG is simply not found.
	if _, err := s.Stat(ctx, pinned.CID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("stat after gc: %v, want ErrNotFound", err)
	}

	// Pin of a local DAG that was added unpinned.
	again := addBytes(t, s, randomBytes(22, 10), files.AddOptions{})
	if err := s.Pin(ctx, again.CID); err != nil {
		t.Fatal(err)
	}
	if res, _ := s.GC(ctx); res.Blocks != 0 {
		t.Fatalf("gc removed %d blocks of a pinned file", res.Blocks)
	}
}
