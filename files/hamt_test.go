package files_test

import (
	"fmt"
	"testing"

	bfiles "github.com/ipfs/boxo/files"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"

	"github.com/plexus-p2p/plexus/files"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// ls of a HAMT-sharded directory fetches its shard nodes and its entries'
// root blocks, not the files under them.
func TestLsShardedDirectoryFetchesNoFiles(t *testing.T) {
	// shard above 1 KiB of links instead of 256 KiB, so that 60 entries
	// make a HAMT with sub-shards (restored after the test)
	old := uio.HAMTShardingSize
	uio.HAMTShardingSize = 1024
	t.Cleanup(func() { uio.HAMTShardingSize = old })

	hosts := testnet.Mocknet(t, 2)
	tbl := newProviderTable()
	prov := newService(t, hosts[0], tbl.router(hosts[0]))
	get := newService(t, hosts[1], tbl.router(hosts[1]))

	const entries = 60
	tree := map[string]bfiles.Node{}
	sizes := map[string]int{}
	for i := range entries {
		name := fmt.Sprintf("file-%03d.bin", i)
		n := 2*files.ChunkSize + 100 + i // 3 leaves and a root each
		tree[name] = bfiles.NewBytesFile(randomBytes(uint64(1000+i), n))
		sizes[name] = n
	}
	added, err := prov.Add(t.Context(), bfiles.NewMapDirectory(tree), files.AddOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	tbl.waitProvided(t, added.CID, 1)
	shardNodes := added.Blocks - entries*4
	if shardNodes < 2 {
		t.Fatalf("the directory has %d blocks besides its files: not a HAMT with sub-shards", shardNodes)
	}

	got, err := get.Ls(t.Context(), added.CID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != entries {
		t.Fatalf("ls: %d entries, want %d", len(got), entries)
	}
	for _, e := range got {
		if want, ok := sizes[e.Name]; !ok || e.Size != uint64(want) || e.Dir {
			t.Fatalf("entry %+v: want a file of %d bytes", e, want)
		}
	}
	st, err := get.Stat(t.Context(), added.CID)
	if err != nil {
		t.Fatal(err)
	}
	// the shard nodes and one root block per file, no leaf
	if st.Local || st.LocalBlocks != shardNodes+entries {
		t.Fatalf("after ls: %d blocks local (local %v), want the %d shard nodes and %d file roots only",
			st.LocalBlocks, st.Local, shardNodes, entries)
	}
}
