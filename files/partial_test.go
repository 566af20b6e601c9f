package files_test

import (
	"testing"
	"time"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/files"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// addTree adds dir{sub{a}, b} on s, a and b being la and lb random bytes,
// and returns the CIDs of the directory, a and b.
func addTree(t *testing.T, s *files.Service, la, lb int) (dir, a, b files.Entry) {
	t.Helper()
	tree := map[string]bfiles.Node{
		"sub": bfiles.NewMapDirectory(map[string]bfiles.Node{"a": bfiles.NewBytesFile(randomBytes(40, la))}),
		"b":   bfiles.NewBytesFile(randomBytes(41, lb)),
	}
	added, err := s.Add(t.Context(), bfiles.NewMapDirectory(tree), files.AddOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]files.Entry{}
	for _, d := range []cid.Cid{added.CID} {
		es, err := s.Ls(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			entries[e.Name] = e
		}
	}
	es, err := s.Ls(t.Context(), entries["sub"].CID)
	if err != nil || len(es) != 1 {
		t.Fatalf("ls sub: %v %v", es, err)
	}
	return files.Entry{CID: added.CID, Dir: true}, es[0], entries["b"]
}

func self(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// Stat and Ls of a CID whose root block is missing fetch that block only
// (Ls: and each entry's root block), not the DAG under it.
func TestStatAndLsFetchOnlyRootBlocks(t *testing.T) {
	hosts := testnet.Mocknet(t, 2)
	tbl := newProviderTable()
	prov := newService(t, hosts[0], tbl.router(hosts[0]))
	get := newService(t, hosts[1], tbl.router(hosts[1]))
	dir, a, b := addTree(t, prov, 3<<20+5, 1<<20)
	tbl.waitProvided(t, dir.CID, 1)
	tbl.add(a.CID, self(hosts[0]))

	st, err := get.Stat(t.Context(), a.CID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Local || st.LocalBlocks != 1 || st.Size != 3<<20+5 || st.Dir {
		t.Fatalf("stat of a file whose root was missing: %+v, want its root block only, size %d", st, 3<<20+5)
	}
	if got := dagBlocks(t, get, a.CID); len(got) != 1 {
		t.Fatalf("after stat the file has %d blocks stored, want 1 (its root)", len(got))
	}

	st, err = get.Stat(t.Context(), dir.CID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Local || !st.Dir || st.LocalBlocks != 1 {
		t.Fatalf("stat of a directory whose root was missing: %+v, want its root block only", st)
	}

	es, err := get.Ls(t.Context(), dir.CID)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Name != "b" || es[0].CID != b.CID || es[0].Size != 1<<20 || es[1].Name != "sub" || !es[1].Dir {
		t.Fatalf("ls: %+v", es)
	}
	// dir, b's root, sub, and a's root (fetched by the first stat; sub is
	// not listed, so nothing else of a)
	if got := dagBlocks(t, get, dir.CID); len(got) != 4 {
		t.Fatalf("after ls the directory has %d blocks stored, want 4 (its root, its entries' roots, a's root): %v", len(got), got)
	}
	if got := dagBlocks(t, get, b.CID); len(got) != 1 {
		t.Fatalf("after ls the file b has %d blocks stored, want 1 (its root)", len(got))
	}
}

// Fetching a directory whose root block is missing does not fetch again
// what is stored already under it (a file fetched on its own before).
func TestFetchDirectorySkipsStoredSubtrees(t *testing.T) {
	hosts := testnet.Mocknet(t, 2)
	tbl := newProviderTable()
	prov := newService(t, hosts[0], tbl.router(hosts[0]))
	get := newService(t, hosts[1], tbl.router(hosts[1]))
	dir, a, b := addTree(t, prov, 1<<20+5, 1<<20)
	tbl.waitProvided(t, dir.CID, 1)
	tbl.add(a.CID, self(hosts[0]))
	all := len(dagBlocks(t, prov, dir.CID))
	aBlocks := len(dagBlocks(t, prov, a.CID))

	got, err := get.Fetch(t.Context(), a.CID, nil)
	if err != nil || got.Blocks != aBlocks {
		t.Fatalf("fetch of a: %+v %v, want %d blocks", got, err, aBlocks)
	}
	got, err = get.Fetch(t.Context(), dir.CID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Blocks != all-aBlocks || got.Bytes > 1<<20+4096 {
		t.Fatalf("fetch of the directory after its file a: %d blocks, %d bytes fetched; want %d blocks (all %d but a's %d), about 1 MiB",
			got.Blocks, got.Bytes, all-aBlocks, all, aBlocks)
	}
	st, err := get.Stat(t.Context(), dir.CID)
	if err != nil || !st.Local || st.Blocks != all || st.Size != 2<<20+5 {
		t.Fatalf("stat after fetch: %+v %v", st, err)
	}
	sameBytes(t, catAll(t, get, t.Context(), b.CID), randomBytes(41, 1<<20))
}

// Ls fetches the missing root blocks of a directory's entries from the
// directory's providers: only the directory is announced, and an empty
// file (an empty raw block) is listed too.
func TestLsFetchesEntriesFromTheDirectorysProviders(t *testing.T) {
	hosts := testnet.Mocknet(t, 2)
	tbl := newProviderTable()
	prov := newService(t, hosts[0], tbl.router(hosts[0]))
	get := newService(t, hosts[1], tbl.router(hosts[1]), files.WithFetchTimeout(20*time.Second))
	tree := map[string]bfiles.Node{"empty": bfiles.NewBytesFile(nil), "x": bfiles.NewBytesFile([]byte("x"))}
	added, err := prov.Add(t.Context(), bfiles.NewMapDirectory(tree), files.AddOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	tbl.waitProvided(t, added.CID, 1)
	es, err := get.Ls(t.Context(), added.CID)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Name != "empty" || es[0].Size != 0 || es[1].Name != "x" || es[1].Size != 1 {
		t.Fatalf("ls: %+v", es)
	}
}
