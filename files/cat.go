package files

import (
	"context"
	"fmt"
	"io"
	"sync"

	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Cat streams the bytes of the file c. When the file is not all local it
// is fetched in the background (as Fetch: from every provider, resuming)
// while the reader returns bytes as their blocks arrive; a failed fetch
// fails the read. Close stops the fetch.
func (s *Service) Cat(ctx context.Context, c cid.Cid) (io.ReadCloser, error) {
	nd, err := s.node(ctx, c)
	if err != nil {
		return nil, err
	}
	if isDir(nd) {
		return nil, fmt.Errorf("files: cat %s: %w (use get or ls)", c, ErrNotFile)
	}
	fctx, cancel := context.WithCancel(ctx)
	g := &arrivingGetter{s: s, done: make(chan struct{})}
	go func() {
		defer close(g.done)
		_, g.err = s.Fetch(fctx, c, nil)
	}()
	r, err := uio.NewDagReader(fctx, nd, g)
	if err != nil {
		cancel()
		<-g.done
		return nil, fmt.Errorf("files: cat %s: %w", c, err)
	}
	return &catReader{DagReader: r, cancel: cancel, done: g.done}, nil
}

type catReader struct {
	uio.DagReader
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func (r *catReader) Close() error {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
	return r.DagReader.Close()
}

// arrivingGetter reads blocks from the store, waiting for those a running
// fetch has not stored yet.
type arrivingGetter struct {
	s    *Service
	done chan struct{} // closed when the fetch ended
	err  error         // its error, read after done
}

func (g *arrivingGetter) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	for {
		arrived := g.s.arrivals()
		nd, err := g.s.dag.Get(ctx, c)
		if err == nil || !ipld.IsNotFound(err) {
			return nd, err
		}
		select {
		case <-arrived:
		case <-g.done:
			if nd, err := g.s.dag.Get(ctx, c); err == nil {
				return nd, nil
			}
			if g.err != nil {
				return nil, g.err
			}
			return nil, fmt.Errorf("files: %s: %w", c, ErrNotFound)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (g *arrivingGetter) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	go func() {
		defer close(out)
		for _, c := range cs {
			nd, err := g.Get(ctx, c)
			out <- &ipld.NodeOption{Node: nd, Err: err}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// arrivals returns a channel closed when the next block is stored by a fetch.
func (s *Service) arrivals() <-chan struct{} {
	s.arrivalMu.Lock()
	defer s.arrivalMu.Unlock()
	if s.arrival == nil {
		s.arrival = make(chan struct{})
	}
	return s.arrival
}

// arrived wakes the readers waiting for blocks.
func (s *Service) arrived() {
	s.arrivalMu.Lock()
	if s.arrival != nil {
		close(s.arrival)
		s.arrival = nil
	}
	s.arrivalMu.Unlock()
}
