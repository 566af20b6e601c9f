package files

import (
	"context"

	"github.com/ipfs/go-cid"
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
