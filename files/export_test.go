package files

import (
	"context"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
)

// DeleteBlock removes one stored block (tests make providers that hold
// only part of a DAG).
func (s *Service) DeleteBlock(ctx context.Context, c cid.Cid) error { return s.bs.DeleteBlock(ctx, c) }

// DAGBlocks lists the stored blocks of the DAG c.
func (s *Service) DAGBlocks(ctx context.Context, c cid.Cid) ([]cid.Cid, error) {
	var out []cid.Cid
	err := s.walk(ctx, c, false, func(v visit) error {
		if v.present {
			out = append(out, v.cid)
		}
		return nil
	})
	return out, err
}

// WithBlockDatastore keeps blocks in ds (tests inject failures).
func WithBlockDatastore(ds datastore.Batching) Option {
	return func(c *config) error { c.blocksDS = ds; return nil }
}
