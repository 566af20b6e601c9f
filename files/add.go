package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	chunker "github.com/ipfs/boxo/chunker"
	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// AddOptions control Add.
type AddOptions struct {
	OnlyHash bool              // compute the CID, store nothing
	Pin      bool              // pin the root (the CLI and API default to true)
	Progress func(AddProgress) // may be nil; called at most every 100 ms and at the end
}

// AddProgress tells how far an add has got.
type AddProgress struct{ Bytes uint64 } // file bytes read so far

// Added is the result of Add.
type Added struct {
	CID    cid.Cid // CIDv1, base32 when printed
	Size   uint64  // file bytes (sum over a directory)
	Blocks int
}

// Add imports a file or a directory tree with Kubo's defaults for `ipfs add
// --cid-version 1` (256 KiB fixed-size chunks, balanced layout with 174
// links per node, raw leaves, CIDv1) and announces the root on the DHT.
// Files are streamed: memory stays bounded whatever their size.
func (s *Service) Add(ctx context.Context, n bfiles.Node, opts AddOptions) (Added, error) {
	if n == nil {
		return Added{}, errors.New("files: add: nothing to add")
	}
	release, err := s.hold(ctx)
	if err != nil {
		return Added{}, err
	}
	defer release()

	a := &adder{ctx: ctx, progress: opts.Progress}
	var dag ipld.DAGService = hashOnly{}
	var batch *ipld.Batch
	if !opts.OnlyHash {
		batch = ipld.NewBatch(ctx, s.dag, ipld.MaxSizeBatchOption(8<<20))
		dag = batchDAG{DAGService: s.dag, b: batch}
	}
	a.dag = &countingDAG{DAGService: dag, n: &a.blocks}
	root, err := a.add(n)
	if err == nil && batch != nil {
		err = batch.Commit()
	}
	if err != nil {
		return Added{}, fmt.Errorf("files: add: %w", err)
	}
	a.report(true)
	out := Added{CID: root.Cid(), Size: a.bytes.Load(), Blocks: int(a.blocks.Load())}
	if opts.OnlyHash {
		return out, nil
	}
	if err := s.store.commit(); err != nil {
		return Added{}, err
	}
	if opts.Pin {
		if err := s.savePin(ctx, out.CID); err != nil {
			return Added{}, err
		}
	}
	s.publish(EventAdded, AddedEvent{CID: out.CID, Size: out.Size, Blocks: out.Blocks})
	s.provideAsync(out.CID)
	return out, nil
}

type adder struct {
	ctx      context.Context
	dag      ipld.DAGService
	progress func(AddProgress)
	bytes    atomic.Uint64
	blocks   atomic.Int64
	last     time.Time
}

func (a *adder) report(final bool) {
	if a.progress == nil {
		return
	}
	if now := time.Now(); final || now.Sub(a.last) >= 100*time.Millisecond {
		a.last = now
		a.progress(AddProgress{Bytes: a.bytes.Load()})
	}
}

func (a *adder) add(n bfiles.Node) (ipld.Node, error) {
	switch f := n.(type) {
	case *bfiles.Symlink:
		data, err := ft.SymlinkData(f.Target)
		if err != nil {
			return nil, err
		}
		nd := merkledag.NodeWithData(data)
		if err := nd.SetCidBuilder(cidBuilder); err != nil {
			return nil, err
		}
		return nd, a.dag.Add(a.ctx, nd)
	case bfiles.File:
		return a.addFile(f)
	case bfiles.Directory:
		return a.addDir(f)
	}
	return nil, fmt.Errorf("unsupported file type %T", n)
}

func (a *adder) addFile(f bfiles.File) (ipld.Node, error) {
	r := &countingReader{r: f, a: a}
	params := helpers.DagBuilderParams{Dagserv: a.dag, RawLeaves: true, Maxlinks: MaxLinks, CidBuilder: cidBuilder}
	db, err := params.New(chunker.NewSizeSplitter(r, ChunkSize))
	if err != nil {
		return nil, err
	}
	return balanced.Layout(db)
}

func (a *adder) addDir(d bfiles.Directory) (ipld.Node, error) {
	dir, err := uio.NewDirectory(a.dag, uio.WithCidBuilder(cidBuilder))
	if err != nil {
		return nil, err
	}
	it := d.Entries()
	for it.Next() {
		child, err := a.add(it.Node())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
		if err := dir.AddChild(a.ctx, it.Name(), child); err != nil {
			return nil, fmt.Errorf("%s: %w", it.Name(), err)
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	nd, err := dir.GetNode()
	if err != nil {
		return nil, err
	}
	return nd, a.dag.Add(a.ctx, nd)
}

type countingReader struct {
	r io.Reader
	a *adder
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.a.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.a.bytes.Add(uint64(n))
	c.a.report(false)
	return n, err
}

// countingDAG counts the distinct nodes added.
type countingDAG struct {
	ipld.DAGService
	n    *atomic.Int64
	seen map[string]struct{}
}

func (d *countingDAG) Add(ctx context.Context, nd ipld.Node) error {
	d.count(nd)
	return d.DAGService.Add(ctx, nd)
}

func (d *countingDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	for _, nd := range nds {
		d.count(nd)
	}
	return d.DAGService.AddMany(ctx, nds)
}

func (d *countingDAG) count(nd ipld.Node) {
	if d.seen == nil {
		d.seen = make(map[string]struct{})
	}
	k := string(nd.Cid().Hash())
	if _, ok := d.seen[k]; !ok {
		d.seen[k] = struct{}{}
		d.n.Add(1)
	}
}

// batchDAG writes through an ipld.Batch (blocks written in parallel) and
// reads from the store.
type batchDAG struct {
	ipld.DAGService
	b *ipld.Batch
}

func (d batchDAG) Add(ctx context.Context, nd ipld.Node) error { return d.b.Add(ctx, nd) }
func (d batchDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	return d.b.AddMany(ctx, nds)
}

// hashOnly is the DAG service of an only-hash add: it keeps nothing.
type hashOnly struct{}

func (hashOnly) Add(context.Context, ipld.Node) error        { return nil }
func (hashOnly) AddMany(context.Context, []ipld.Node) error  { return nil }
func (hashOnly) Remove(context.Context, cid.Cid) error       { return nil }
func (hashOnly) RemoveMany(context.Context, []cid.Cid) error { return nil }
func (hashOnly) Get(_ context.Context, c cid.Cid) (ipld.Node, error) {
	return nil, ipld.ErrNotFound{Cid: c}
}
func (hashOnly) GetMany(_ context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	ch := make(chan *ipld.NodeOption, len(cs))
	for _, c := range cs {
		ch <- &ipld.NodeOption{Err: ipld.ErrNotFound{Cid: c}}
	}
	close(ch)
	return ch
}
