package files_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	corerouting "github.com/libp2p/go-libp2p/core/routing"

	"github.com/plexus-p2p/plexus/files"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// newService opens a service with blocks in a temporary flatfs directory;
// h and r may be nil for an offline service.
func newService(t *testing.T, h host.Host, r corerouting.ContentRouting, opts ...files.Option) *files.Service {
	t.Helper()
	opts = append([]files.Option{files.WithBlocksDir(t.TempDir()), files.WithLogger(testnet.Quiet)}, opts...)
	s, err := files.New(h, dssync.MutexWrap(datastore.NewMapDatastore()), r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func addBytes(t *testing.T, s *files.Service, data []byte, opts files.AddOptions) files.Added {
	t.Helper()
	a, err := s.Add(t.Context(), bfiles.NewBytesFile(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func catAll(t *testing.T, s *files.Service, ctx context.Context, c cid.Cid) []byte {
	t.Helper()
	r, err := s.Cat(ctx, c)
	if err != nil {
		t.Fatalf("cat %s: %v", c, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("cat %s: read: %v", c, err)
	}
	return b
}

func sameBytes(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d bytes (contents differ)", len(got), len(want))
	}
}

// providerTable is a content router shared by the services of a test: a
// provide is seen at once by every FindProviders.
type providerTable struct {
	mu    sync.Mutex
	provs map[cid.Cid][]peer.AddrInfo
}

func newProviderTable() *providerTable {
	return &providerTable{provs: map[cid.Cid][]peer.AddrInfo{}}
}

// add records ai as a provider of c.
func (p *providerTable) add(c cid.Cid, ai peer.AddrInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range p.provs[c] {
		if q.ID == ai.ID {
			return
		}
	}
	p.provs[c] = append(p.provs[c], ai)
}

// router returns h's view of the table.
func (p *providerTable) router(h host.Host) corerouting.ContentRouting { return tableRouter{p, h} }

type tableRouter struct {
	t *providerTable
	h host.Host
}

func (r tableRouter) Provide(_ context.Context, c cid.Cid, _ bool) error {
	r.t.add(c, peer.AddrInfo{ID: r.h.ID(), Addrs: r.h.Addrs()})
	return nil
}

func (r tableRouter) FindProvidersAsync(ctx context.Context, c cid.Cid, n int) <-chan peer.AddrInfo {
	r.t.mu.Lock()
	provs := append([]peer.AddrInfo(nil), r.t.provs[c]...)
	r.t.mu.Unlock()
	ch := make(chan peer.AddrInfo, len(provs))
	for i, ai := range provs {
		if i < n {
			ch <- ai
		}
	}
	close(ch)
	return ch
}

// waitProvided waits until c is in the table (Add announces in the background).
func (p *providerTable) waitProvided(t *testing.T, c cid.Cid, n int) {
	t.Helper()
	testnet.Eventually(t, 10*time.Second, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.provs[c]) >= n
	}, "%s has not %d providers", c, n)
}

func dagBlocks(t *testing.T, s *files.Service, c cid.Cid) []cid.Cid {
	t.Helper()
	bs, err := s.DAGBlocks(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}
