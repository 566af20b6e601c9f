package files

import (
	"context"
	"sync"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Block writes run in parallel: a flatfs put is a handful of file system
// calls (create, write, rename) whose latency, not bandwidth, limits one
// writer (measured here: 33 MB/s with one writer, 121 MB/s with four).
const (
	writers    = 8
	writeQueue = 16 // blocks queued: memory stays bounded (16 x 256 KiB)
)

// arrival is a verified block to store, with the peer that sent it.
type arrival struct {
	b   blocks.Block
	p   peer.ID
	buf *[]byte // b's buffer, given back to alignedBufs once b is stored
}

// writer stores blocks with parallel workers; after is called for each
// block once it is stored. The first error stops it.
type writer struct {
	bs    blockstore.Blockstore
	ctx   context.Context
	ch    chan arrival
	wg    sync.WaitGroup
	after func(arrival)
	onErr func(error)

	mu  sync.Mutex
	err error
}

func newWriter(ctx context.Context, bs blockstore.Blockstore, after func(arrival), onErr func(error)) *writer {
	w := &writer{bs: bs, ctx: ctx, ch: make(chan arrival, writeQueue), after: after, onErr: onErr}
	for range writers {
		w.wg.Add(1)
		go w.work()
	}
	return w
}

func (w *writer) work() {
	defer w.wg.Done()
	for a := range w.ch {
		if w.error() != nil {
			continue
		}
		if err := w.bs.Put(w.ctx, a.b); err != nil {
			w.setErr(err)
			continue
		}
		if w.after != nil {
			w.after(a)
		}
		if a.buf != nil {
			alignedBufs.Put(a.buf)
		}
	}
}

func (w *writer) setErr(err error) {
	w.mu.Lock()
	first := w.err == nil
	if first {
		w.err = err
	}
	w.mu.Unlock()
	if first && w.onErr != nil {
		w.onErr(err)
	}
}

func (w *writer) error() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// put queues a block (a verified one: the writer does not check).
func (w *writer) put(ctx context.Context, a arrival) error {
	if err := w.error(); err != nil {
		return err
	}
	select {
	case w.ch <- a:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close waits for the queued blocks and returns the first error.
func (w *writer) close() error {
	close(w.ch)
	w.wg.Wait()
	return w.error()
}

// writerDAG is the DAG service of an add: nodes go to a writer.
type writerDAG struct {
	ipld.DAGService
	w *writer
}

func (d writerDAG) Add(ctx context.Context, nd ipld.Node) error {
	return d.w.put(ctx, arrival{b: nd})
}

func (d writerDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	for _, nd := range nds {
		if err := d.Add(ctx, nd); err != nil {
			return err
		}
	}
	return nil
}

func (d writerDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	return d.DAGService.Get(ctx, c)
}
