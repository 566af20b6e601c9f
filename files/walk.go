package files

import (
	"context"
	"errors"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// visit is one block of a DAG walk.
type visit struct {
	cid       cid.Cid
	present   bool                 // the block is stored
	raw       bool                 // a raw leaf
	size      int                  // block size when present
	node      *merkledag.ProtoNode // a present dag-pb block
	parentDir bool                 // linked from a UnixFS directory
	linkSize  uint64               // the DAG size its parent's link gives (0 for the root)
}

// errSkipChildren from a walk callback skips the block's children.
var errSkipChildren = errors.New("skip children")

// walk visits the DAG under root in depth-first pre-order over what is
// stored: the children of a missing dag-pb block are unknown and not
// visited. Each block is visited once. With verifyLocal every stored block
// is read and checked against its CID; one that fails is deleted and
// reported missing.
func (s *Service) walk(ctx context.Context, root cid.Cid, verifyLocal bool, fn func(visit) error) error {
	type item struct {
		c         cid.Cid
		parentDir bool
		size      uint64
	}
	stack := []item{{c: root}}
	seen := make(map[string]struct{})
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k := string(it.c.Hash())
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		v, err := s.load(ctx, it.c, verifyLocal)
		if err != nil {
			return err
		}
		v.parentDir, v.linkSize = it.parentDir, it.size
		err = fn(v)
		if errors.Is(err, errSkipChildren) || v.node == nil {
			continue
		}
		if err != nil {
			return err
		}
		dir := isDir(v.node)
		links := v.node.Links()
		for i := len(links) - 1; i >= 0; i-- {
			stack = append(stack, item{c: links[i].Cid, parentDir: dir, size: links[i].Size})
		}
	}
	return nil
}

// load reads what walk needs of the block c.
func (s *Service) load(ctx context.Context, c cid.Cid, verifyLocal bool) (visit, error) {
	v := visit{cid: c, raw: c.Type() != cid.DagProtobuf}
	if v.raw && !verifyLocal {
		size, err := s.bs.GetSize(ctx, c)
		if ipld.IsNotFound(err) {
			return v, nil
		}
		if err != nil {
			return v, err
		}
		v.present, v.size = true, size
		return v, nil
	}
	b, err := s.bs.Get(ctx, c)
	if ipld.IsNotFound(err) {
		return v, nil
	}
	if err != nil {
		return v, err
	}
	if verifyLocal {
		if verify(c, b.RawData()) != nil {
			s.log.Warn("stored block does not match its CID: deleting it to fetch it again", "cid", c)
			return v, s.bs.DeleteBlock(ctx, c)
		}
	}
	v.present, v.size = true, len(b.RawData())
	if c.Type() == cid.DagProtobuf {
		pn, err := merkledag.DecodeProtobuf(b.RawData())
		if err != nil {
			return v, err
		}
		v.node = pn
	}
	return v, nil
}
