package files_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	flatfs "github.com/ipfs/go-ds-flatfs"

	"github.com/plexus-p2p/plexus/files"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// The block directory stays a flatfs directory that Kubo's flatfs opens,
// whatever the sync policy (full 256 KiB leaves are written with O_DIRECT
// on Linux, the rest through flatfs): every block of an added file is
// there, under its flatfs name, with its bytes, and nothing is left in the
// temporary directory.
func TestBlocksDirIsFlatfs(t *testing.T) {
	for _, policy := range []string{files.SyncCommit, files.SyncBlock, files.SyncNone} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			open := func() *files.Service {
				s, err := files.New(nil, dssync.MutexWrap(datastore.NewMapDatastore()), nil,
					files.WithBlocksDir(dir), files.WithSync(policy), files.WithLogger(testnet.Quiet))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			data := randomBytes(7, 5*files.ChunkSize+1234) // 5 full leaves, a tail, a root
			s := open()
			added := addBytes(t, s, data, files.AddOptions{Pin: true})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			fs, err := flatfs.CreateOrOpen(dir, flatfs.NextToLast(2), false)
			if err != nil {
				t.Fatalf("flatfs does not open the block directory: %v", err)
			}
			bs := blockstore.NewBlockstore(fs, blockstore.NoPrefix())
			bs = blockstore.NewIdStore(bs)
			ch, err := bs.AllKeysChan(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for c := range ch {
				b, err := bs.Get(context.Background(), c)
				if err != nil {
					t.Fatalf("flatfs cannot read block %s: %v", c, err)
				}
				if got, _ := c.Prefix().Sum(b.RawData()); !bytes.Equal(got.Hash(), c.Hash()) {
					t.Fatalf("block %s read through flatfs does not match its hash", c)
				}
				n++
			}
			if n != added.Blocks || n != 7 {
				t.Fatalf("flatfs lists %d blocks, the add reported %d (want 7)", n, added.Blocks)
			}
			fs.Close()
			if left, _ := os.ReadDir(filepath.Join(dir, ".temp")); len(left) != 0 {
				t.Fatalf("temporary files left: %v", left)
			}
			entries, _ := filepath.Glob(filepath.Join(dir, "*", "*.data"))
			for _, e := range entries {
				name := strings.TrimSuffix(filepath.Base(e), ".data")
				if want := name[len(name)-3 : len(name)-1]; filepath.Base(filepath.Dir(e)) != want {
					t.Fatalf("%s is not in its next-to-last/2 shard %s", e, want)
				}
			}

			s = open()
			defer s.Close()
			r, err := s.Cat(t.Context(), added.CID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("cat after reopening: %d bytes, err %v; want the %d bytes added", len(got), err, len(data))
			}
		})
	}
}
