package files_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"

	"github.com/plexus-p2p/plexus/files"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// fullDisk is a block datastore that runs out of space after room bytes.
type fullDisk struct {
	datastore.Batching
	room atomic.Int64
}

func (d *fullDisk) Put(ctx context.Context, k datastore.Key, v []byte) error {
	if d.room.Add(-int64(len(v))) < 0 {
		d.room.Add(int64(len(v)))
		return &fsError{syscall.ENOSPC}
	}
	return d.Batching.Put(ctx, k, v)
}

type fsError struct{ errno syscall.Errno }

func (e *fsError) Error() string { return "write /blocks/tmp: " + e.errno.Error() }
func (e *fsError) Unwrap() error { return e.errno }

// The disk fills up during a fetch: the fetch fails with the disk's error,
// nothing is reported local or pinned, and once there is room again the
// fetch resumes from the blocks that were stored.
func TestFetchDiskFull(t *testing.T) {
	hosts := testnet.Mocknet(t, 2)
	tbl := newProviderTable()
	prov := newService(t, hosts[0], tbl.router(hosts[0]))
	disk := &fullDisk{Batching: mapDatastore()}
	disk.room.Store(1 << 20) // 4 leaves
	get := newService(t, hosts[1], tbl.router(hosts[1]), files.WithBlockDatastore(disk))

	data := randomBytes(70, 3<<20)
	added := addBytes(t, prov, data, files.AddOptions{Pin: true})
	tbl.waitProvided(t, added.CID, 1)

	_, err := get.Fetch(t.Context(), added.CID, nil)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("fetch onto a full disk: %v, want the disk's ENOSPC", err)
	}
	if err := get.Pin(t.Context(), added.CID); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("pin onto a full disk: %v, want ENOSPC", err)
	}
	if pins, _ := get.Pins(t.Context()); len(pins) != 0 {
		t.Fatalf("pins after a failed pin: %v", pins)
	}
	st, err := get.Stat(t.Context(), added.CID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Local || st.Blocks != 0 || st.LocalBlocks == 0 || st.LocalBlocks >= added.Blocks {
		t.Fatalf("stat after the failed fetch: %+v, want some of %d blocks and not local", st, added.Blocks)
	}
	// cat streams what it can and then fails with the disk's error
	r, err := get.Cat(t.Context(), added.CID)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	r.Close()
	if !errors.Is(err, syscall.ENOSPC) || n >= int64(len(data)) {
		t.Fatalf("cat onto a full disk: %d bytes, %v; want fewer than %d and ENOSPC", n, err, len(data))
	}

	disk.room.Store(1 << 30)
	got, err := get.Fetch(t.Context(), added.CID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Blocks != added.Blocks-st.LocalBlocks {
		t.Fatalf("resumed fetch got %d blocks, want the %d missing", got.Blocks, added.Blocks-st.LocalBlocks)
	}
	sameBytes(t, catAll(t, get, t.Context(), added.CID), data)
}

func TestUndefinedCID(t *testing.T) {
	s := newService(t, nil, nil)
	if _, err := s.Fetch(t.Context(), cid.Undef, nil); err == nil {
		t.Fatal("fetch of an undefined CID succeeded")
	}
	if _, err := s.Stat(t.Context(), cid.Undef); err == nil {
		t.Fatal("stat of an undefined CID succeeded")
	}
	if _, err := s.Add(t.Context(), nil, files.AddOptions{}); err == nil {
		t.Fatal("add of nothing succeeded")
	}
}
