package files_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/files"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

func TestFetchBetweenNodes(t *testing.T) {
	hosts := testnet.Mocknet(t, 2)
	tbl := newProviderTable()
	prov := newService(t, hosts[0], tbl.router(hosts[0]))
	rec := &events.Recorder{}
	get := newService(t, hosts[1], tbl.router(hosts[1]), files.WithPublisher(rec))

	data := randomBytes(30, 5<<20+123)
	added := addBytes(t, prov, data, files.AddOptions{Pin: true})
	tbl.waitProvided(t, added.CID, 1)

	var last files.FetchProgress
	got, err := get.Fetch(t.Context(), added.CID, func(p files.FetchProgress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if got.Blocks != added.Blocks || got.Peers != 1 || got.CID != added.CID {
		t.Fatalf("fetched %+v, want %d blocks from 1 peer", got, added.Blocks)
	}
	if last.Blocks != added.Blocks || last.Bytes != last.TotalBytes || last.TotalBytes < uint64(len(data)) {
		t.Fatalf("last progress %+v", last)
	}
	st, err := get.Stat(t.Context(), added.CID)
	if err != nil || !st.Local || st.Blocks != added.Blocks || st.Size != uint64(len(data)) || st.Pinned {
		t.Fatalf("stat after fetch: %+v %v", st, err)
	}
	sameBytes(t, catAll(t, get, t.Context(), added.CID), data)
	if len(rec.Of(files.EventFetched)) != 1 || len(rec.Of(files.EventFetchProgress)) == 0 {
		t.Fatalf("events: %d fetched, %d progress", len(rec.Of(files.EventFetched)), len(rec.Of(files.EventFetchProgress)))
	}

	// Everything is local now: nothing is fetched again.
	again, err := get.Fetch(t.Context(), added.CID, nil)
	if err != nil || again.Blocks != 0 {
		t.Fatalf("second fetch %+v %v, want nothing fetched", again, err)
	}
	// The fetching node serves what it fetched: a third node gets it from either.
	provs, err := get.Providers(t.Context(), added.CID, 5)
	if err != nil || len(provs) != 1 || provs[0].ID != hosts[0].ID() {
		t.Fatalf("providers %v %v", provs, err)
	}
}

// A file that only a bitswap peer has (it does not speak the block
// protocol, as Kubo) is fetched with bitswap.
func TestFetchWithBitswapOnly(t *testing.T) {
	hosts := testnet.Mocknet(t, 2)
	tbl := newProviderTable()
	prov := newService(t, hosts[0], tbl.router(hosts[0]), files.WithProtocolPrefix("/not-plexus"))
	get := newService(t, hosts[1], tbl.router(hosts[1]))
	data := randomBytes(31, 2<<20+5)
	added := addBytes(t, prov, data, files.AddOptions{Pin: true})
	tbl.waitProvided(t, added.CID, 1)
	got, err := get.Fetch(t.Context(), added.CID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Blocks != added.Blocks || got.Peers != 1 {
		t.Fatalf("fetched %+v, want %d blocks from 1 peer", got, added.Blocks)
	}
	sameBytes(t, catAll(t, get, t.Context(), added.CID), data)
}

func TestFetchResumesAfterCancel(t *testing.T) {
	hosts := testnet.Mocknet(t, 2)
	tbl := newProviderTable()
	prov := newService(t, hosts[0], tbl.router(hosts[0]))
	get := newService(t, hosts[1], tbl.router(hosts[1]))
	data := randomBytes(32, 8<<20)
	added := addBytes(t, prov, data, files.AddOptions{Pin: true})
	tbl.waitProvided(t, added.CID, 1)

	ctx, cancel := context.WithCancel(t.Context())
	_, err := get.Fetch(ctx, added.CID, func(p files.FetchProgress) {
		if p.Blocks >= 5 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted fetch: %v, want context.Canceled", err)
	}
	st, err := get.Stat(t.Context(), added.CID)
	if err != nil || st.Local || st.LocalBlocks < 5 {
		t.Fatalf("after the interruption: %+v %v, want at least 5 blocks and not all", st, err)
	}
	got, err := get.Fetch(t.Context(), added.CID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Blocks != added.Blocks-st.LocalBlocks {
		t.Fatalf("resumed fetch got %d blocks; %d of %d were already local", got.Blocks, st.LocalBlocks, added.Blocks)
	}
	sameBytes(t, catAll(t, get, t.Context(), added.CID), data)
}

// Each of 4 providers holds one of the 4 files of a directory (and the
// directory block): the fetch takes each file from the one that has it.
func TestFetchFromSeveralProviders(t *testing.T) {
	hosts := testnet.Mocknet(t, 5)
	tbl := newProviderTable()
	names := []string{"a", "b", "c", "d"}
	contents := make(map[string][]byte)
	entries := make(map[string]bfiles.Node)
	for i, n := range names {
		contents[n] = randomBytes(uint64(40+i), 1<<20+i)
		entries[n] = bfiles.NewBytesFile(contents[n])
	}
	var root cid.Cid
	var fileCIDs map[string]cid.Cid
	for i := range 4 {
		p := newService(t, hosts[i], tbl.router(hosts[i]))
		tree := map[string]bfiles.Node{}
		for _, n := range names {
			tree[n] = bfiles.NewBytesFile(contents[n])
		}
		added, err := p.Add(t.Context(), bfiles.NewMapDirectory(tree), files.AddOptions{Pin: false})
		if err != nil {
			t.Fatal(err)
		}
		root = added.CID
		if fileCIDs == nil {
			fileCIDs = map[string]cid.Cid{}
			ents, err := p.Ls(t.Context(), root)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				fileCIDs[e.Name] = e.CID
			}
		}
		// keep only file i
		for j, n := range names {
			if j != i {
				deleteDAG(t, p, fileCIDs[n])
			}
		}
	}
	tbl.waitProvided(t, root, 4)
	get := newService(t, hosts[4], tbl.router(hosts[4]))
	got, err := get.Fetch(t.Context(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Peers != 4 {
		t.Fatalf("fetched from %d peers, want 4 (each has one file)", got.Peers)
	}
	for _, n := range names {
		sameBytes(t, catAll(t, get, t.Context(), fileCIDs[n]), contents[n])
	}
}

// deleteDAG removes the blocks of the file c from s.
func deleteDAG(t *testing.T, s *files.Service, c cid.Cid) {
	t.Helper()
	var blocks []cid.Cid
	if c.Type() == cid.DagProtobuf {
		ents, err := s.Ls(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		_ = ents
	}
	blocks = append(blocks, dagBlocks(t, s, c)...)
	for _, b := range blocks {
		if err := s.DeleteBlock(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFetchNotFound(t *testing.T) {
	hosts := testnet.Mocknet(t, 2)
	tbl := newProviderTable()
	newService(t, hosts[0], tbl.router(hosts[0]))
	get := newService(t, hosts[1], tbl.router(hosts[1]), files.WithFetchTimeout(time.Second))

	nobody := cidOf(t, []byte("nobody has this"))
	_, err := get.Fetch(t.Context(), nobody, nil)
	if !errors.Is(err, files.ErrNotFound) || !strings.Contains(err.Error(), "0 providers tried") {
		t.Fatalf("fetch of a CID nobody provides: %v, want ErrNotFound naming 0 providers", err)
	}
	// A provider record whose peer does not have the block.
	tbl.add(nobody, peer.AddrInfo{ID: hosts[0].ID(), Addrs: hosts[0].Addrs()})
	_, err = get.Fetch(t.Context(), nobody, nil)
	if !errors.Is(err, files.ErrNotFound) || !strings.Contains(err.Error(), "1 providers tried") {
		t.Fatalf("fetch from a provider without the block: %v, want ErrNotFound naming 1 provider", err)
	}
	if _, err := get.Cat(t.Context(), nobody); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("cat: %v, want ErrNotFound", err)
	}
}

// A provider that sends a block that does not match its CID: the block is
// dropped, the provider is not asked again, and the block comes from
// another peer.
func TestFetchBadBlock(t *testing.T) {
	hosts := testnet.Mocknet(t, 3)
	tbl := newProviderTable()
	good := newService(t, hosts[0], nil, files.WithProtocolPrefix("/not-plexus")) // bitswap only, not in the table
	get := newService(t, hosts[1], tbl.router(hosts[1]))
	evil := hosts[2]
	var requests atomic.Int32
	evil.SetStreamHandler("/plexus"+files.BlockProtocol, func(s network.Stream) {
		defer s.Close()
		requests.Add(1)
		// read the request, answer with garbage for its first CID
		r := &byteReader{r: s}
		if _, err := binary.ReadUvarint(r); err != nil {
			s.Reset()
			return
		}
		r.ReadByte()
		l, _ := binary.ReadUvarint(r)
		c := make([]byte, l)
		io.ReadFull(r, c)
		garbage := []byte("not the block you asked for")
		out := binary.AppendUvarint(nil, 1)
		out = append(out, 0xa0)
		out = binary.AppendUvarint(out, uint64(len(c)+len(garbage)))
		out = append(out, c...)
		out = append(out, garbage...)
		s.Write(out)
	})

	for i, size := range []int{700 << 10, 300 << 10} {
		data := randomBytes(uint64(50+i), size)
		added := addBytes(t, good, data, files.AddOptions{Pin: true})
		tbl.add(added.CID, peer.AddrInfo{ID: evil.ID(), Addrs: evil.Addrs()})
		got, err := get.Fetch(t.Context(), added.CID, nil)
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if got.Blocks != added.Blocks {
			t.Fatalf("fetch %d: %+v, want %d blocks", i, got, added.Blocks)
		}
		sameBytes(t, catAll(t, get, t.Context(), added.CID), data)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("the bad provider got %d requests, want 1 (not asked again after a bad block)", n)
	}
}

type byteReader struct{ r io.Reader }

func (b *byteReader) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *byteReader) ReadByte() (byte, error) {
	var one [1]byte
	_, err := io.ReadFull(b.r, one[:])
	return one[0], err
}

func cidOf(t *testing.T, data []byte) cid.Cid {
	h, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}
