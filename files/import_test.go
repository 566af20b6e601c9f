package files_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"sort"
	"testing"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"

	"github.com/plexus-p2p/plexus/files"
)

// Published CIDs of `ipfs add --cid-version 1` (Kubo) for empty input.
const (
	emptyFileCID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	emptyDirCID  = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"
)

// specNode is a node of a file DAG built by hand from the UnixFS spec:
// raw leaves (CIDv1, codec raw, sha2-256 of the chunk), dag-pb parents
// with UnixFS Data {Type: File, filesize, blocksizes} and unnamed links
// whose Tsize is the child's whole DAG size.
type specNode struct {
	c        cid.Cid
	fileSize uint64 // file bytes under it
	dagSize  uint64 // block bytes under it (the link's Tsize)
	blocks   int
}

func rawLeaf(t *testing.T, chunk []byte) specNode {
	sum := sha256.Sum256(chunk)
	h, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	return specNode{c: cid.NewCidV1(cid.Raw, h), fileSize: uint64(len(chunk)), dagSize: uint64(len(chunk)), blocks: 1}
}

func fileParent(t *testing.T, children []specNode) specNode {
	fsn := ft.NewFSNode(ft.TFile)
	pn := new(merkledag.ProtoNode)
	out := specNode{blocks: 1}
	for _, ch := range children {
		fsn.AddBlockSize(ch.fileSize)
		if err := pn.AddRawLink("", &ipld.Link{Cid: ch.c, Size: ch.dagSize}); err != nil {
			t.Fatal(err)
		}
		out.fileSize += ch.fileSize
		out.dagSize += ch.dagSize
		out.blocks += ch.blocks
	}
	data, err := fsn.GetBytes()
	if err != nil {
		t.Fatal(err)
	}
	pn.SetData(data)
	enc, err := pn.EncodeProtobuf(false)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(enc)
	h, _ := mh.Encode(sum[:], mh.SHA2_256)
	out.c = cid.NewCidV1(cid.DagProtobuf, h)
	out.dagSize += uint64(len(enc))
	return out
}

// specFile is the DAG Kubo's `ipfs add --cid-version 1` builds: 256 KiB
// chunks, balanced layout (parents of at most 174 links, filled depth
// first), raw leaves, a single chunk being the file's CID itself.
func specFile(t *testing.T, data []byte) specNode {
	var level []specNode
	for off := 0; off < len(data) || off == 0; off += 256 << 10 {
		level = append(level, rawLeaf(t, data[off:min(off+256<<10, len(data))]))
		if len(data) == 0 {
			break
		}
	}
	for len(level) > 1 {
		var up []specNode
		for i := 0; i < len(level); i += 174 {
			up = append(up, fileParent(t, level[i:min(i+174, len(level))]))
		}
		level = up
	}
	return level[0]
}

func TestAddMatchesKubo(t *testing.T) {
	s := newService(t, nil, nil)
	const chunk = 256 << 10
	sizes := []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"chunk-1", chunk - 1},
		{"one chunk", chunk},
		{"chunk+1", chunk + 1},
		{"three chunks", 3 * chunk},
		{"174 chunks", 174 * chunk},
		{"174 chunks+1 (two levels)", 174*chunk + 1},
	}
	for i, tc := range sizes {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBytes(uint64(i+1), tc.n)
			want := specFile(t, data)
			got := addBytes(t, s, data, files.AddOptions{Pin: true})
			if got.CID != want.c {
				t.Fatalf("CID %s, want %s", got.CID, want.c)
			}
			if got.Size != uint64(tc.n) || got.Blocks != want.blocks {
				t.Fatalf("size %d blocks %d, want %d and %d", got.Size, got.Blocks, tc.n, want.blocks)
			}
			sameBytes(t, catAll(t, s, t.Context(), got.CID), data)
		})
	}
	if e := addBytes(t, s, nil, files.AddOptions{}); e.CID.String() != emptyFileCID {
		t.Fatalf("empty file: %s, want Kubo's %s", e.CID, emptyFileCID)
	}
}

// specDir is a UnixFS directory built by hand: dag-pb, Data {Type:
// Directory}, links sorted by name with the child's DAG size.
func specDir(t *testing.T, entries map[string]specNode) specNode {
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	pn := new(merkledag.ProtoNode)
	pn.SetData(ft.FolderPBData())
	out := specNode{blocks: 1}
	for _, n := range names {
		ch := entries[n]
		if err := pn.AddRawLink(n, &ipld.Link{Cid: ch.c, Size: ch.dagSize}); err != nil {
			t.Fatal(err)
		}
		out.dagSize += ch.dagSize
		out.fileSize += ch.fileSize
		out.blocks += ch.blocks
	}
	enc, err := pn.EncodeProtobuf(false)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(enc)
	h, _ := mh.Encode(sum[:], mh.SHA2_256)
	out.c = cid.NewCidV1(cid.DagProtobuf, h)
	out.dagSize += uint64(len(enc))
	return out
}

func TestAddDirectoryMatchesKubo(t *testing.T) {
	s := newService(t, nil, nil)
	a := randomBytes(10, 1000)
	c := randomBytes(11, 300<<10)
	d := randomBytes(12, 256<<10)
	tree := bfiles.NewMapDirectory(map[string]bfiles.Node{
		"a.txt":   bfiles.NewBytesFile(a),
		"empty":   bfiles.NewBytesFile(nil),
		"nothing": bfiles.NewMapDirectory(nil),
		"sub": bfiles.NewMapDirectory(map[string]bfiles.Node{
			"c.bin": bfiles.NewBytesFile(c),
			"d.bin": bfiles.NewBytesFile(d),
		}),
	})
	emptyDir := specDir(t, nil)
	if emptyDir.c.String() != emptyDirCID {
		t.Fatalf("hand-built empty directory %s, want Kubo's %s", emptyDir.c, emptyDirCID)
	}
	want := specDir(t, map[string]specNode{
		"a.txt":   specFile(t, a),
		"empty":   specFile(t, nil),
		"nothing": emptyDir,
		"sub":     specDir(t, map[string]specNode{"c.bin": specFile(t, c), "d.bin": specFile(t, d)}),
	})
	got, err := s.Add(t.Context(), tree, files.AddOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.CID != want.c || got.Size != want.fileSize || got.Blocks != want.blocks {
		t.Fatalf("got %s size %d blocks %d, want %s size %d blocks %d", got.CID, got.Size, got.Blocks, want.c, want.fileSize, want.blocks)
	}

	entries, err := s.Ls(t.Context(), got.CID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if e.Name == "sub" && !e.Dir || e.Name == "a.txt" && (e.Dir || e.Size != 1000) {
			t.Fatalf("entry %+v", e)
		}
	}
	if want := []string{"a.txt", "empty", "nothing", "sub"}; !equalStrings(names, want) {
		t.Fatalf("ls: %v, want %v", names, want)
	}
	st, err := s.Stat(t.Context(), got.CID)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Dir || !st.Local || !st.Pinned || st.Blocks != want.blocks || st.LocalBlocks != want.blocks || st.Size != want.fileSize {
		t.Fatalf("stat %+v, want a local pinned directory of %d blocks and %d bytes", st, want.blocks, want.fileSize)
	}
	if _, err := s.Cat(t.Context(), got.CID); !errorsIs(err, files.ErrNotFile) {
		t.Fatalf("cat of a directory: %v, want ErrNotFile", err)
	}

	// Get gives the tree back.
	nd, err := s.Get(t.Context(), got.CID)
	if err != nil {
		t.Fatal(err)
	}
	dir, ok := nd.(bfiles.Directory)
	if !ok {
		t.Fatalf("get: %T, want a directory", nd)
	}
	sub := findEntry(t, dir, "sub").(bfiles.Directory)
	cf := findEntry(t, sub, "c.bin").(bfiles.File)
	gotC, _ := io.ReadAll(cf)
	if !bytes.Equal(gotC, c) {
		t.Fatal("get: sub/c.bin differs")
	}
}

func TestOnlyHashStoresNothing(t *testing.T) {
	s := newService(t, nil, nil)
	data := randomBytes(3, 600<<10)
	a := addBytes(t, s, data, files.AddOptions{OnlyHash: true, Pin: true})
	if want := specFile(t, data).c; a.CID != want {
		t.Fatalf("only-hash CID %s, want %s", a.CID, want)
	}
	pins, err := s.Pins(t.Context())
	if err != nil || len(pins) != 0 {
		t.Fatalf("pins after only-hash: %v %v", pins, err)
	}
	res, err := s.GC(t.Context())
	if err != nil || res.Blocks != 0 {
		t.Fatalf("gc after only-hash removed %+v (%v): nothing should have been stored", res, err)
	}
}

func TestAddProgress(t *testing.T) {
	s := newService(t, nil, nil)
	var last files.AddProgress
	calls := 0
	data := randomBytes(4, 1<<20)
	addBytes(t, s, data, files.AddOptions{Progress: func(p files.AddProgress) { last = p; calls++ }})
	if calls == 0 || last.Bytes != uint64(len(data)) {
		t.Fatalf("progress: %d calls, last %+v; want the last to report %d bytes", calls, last, len(data))
	}
}

func findEntry(t *testing.T, d bfiles.Directory, name string) bfiles.Node {
	t.Helper()
	it := d.Entries()
	for it.Next() {
		if it.Name() == name {
			return it.Node()
		}
	}
	t.Fatalf("no entry %q", name)
	return nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
