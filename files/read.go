package files

import (
	"context"
	"errors"
	"fmt"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	unixfile "github.com/ipfs/boxo/ipld/unixfs/file"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Entry is a directory entry.
type Entry struct {
	Name string
	CID  cid.Cid
	Size uint64 // file bytes; for a directory its DAG size
	Dir  bool
}

// Stat describes a DAG.
type Stat struct {
	CID         cid.Cid
	Dir         bool
	Size        uint64 // file bytes (whole DAG for a directory, when known)
	Blocks      int    // blocks of the DAG (known once the DAG is local; 0 if not)
	LocalBlocks int
	Local       bool // the whole DAG is local
	Pinned      bool
}

// node returns the root node c, fetching it when it is not local.
func (s *Service) node(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	if !c.Defined() {
		return nil, errors.New("files: undefined CID")
	}
	nd, err := s.dag.Get(ctx, c)
	if err == nil {
		return nd, nil
	}
	if !ipld.IsNotFound(err) {
		return nil, err
	}
	if err := s.fetchBlocksRoots(ctx, []cid.Cid{c}); err != nil {
		return nil, err
	}
	return s.dag.Get(ctx, c)
}

// Get returns the file or directory c as a boxo files.Node, fetching the
// DAG first when it is not local.
func (s *Service) Get(ctx context.Context, c cid.Cid) (bfiles.Node, error) {
	if _, err := s.Fetch(ctx, c, nil); err != nil {
		return nil, err
	}
	nd, err := s.dag.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	f, err := unixfile.NewUnixfsFile(ctx, s.dag, nd)
	if err != nil {
		return nil, fmt.Errorf("files: get %s: %w", c, err)
	}
	return f, nil
}

// Ls lists a directory's entries; for a file, one entry (with an empty name).
func (s *Service) Ls(ctx context.Context, c cid.Cid) ([]Entry, error) {
	nd, err := s.node(ctx, c)
	if err != nil {
		return nil, err
	}
	if !isDir(nd) {
		return []Entry{s.entry(ctx, "", nd)}, nil
	}
	dir, err := uio.NewDirectoryFromNode(s.dag, nd)
	if err != nil {
		return nil, fmt.Errorf("files: ls %s: %w", c, err)
	}
	// a sharded (HAMT) directory: its shard nodes, not its entries' DAGs
	if err := s.fetchShards(ctx, c, nd); err != nil {
		return nil, fmt.Errorf("files: ls %s: %w", c, err)
	}
	links, err := dir.Links(ctx)
	if err != nil {
		return nil, fmt.Errorf("files: ls %s: %w", c, err)
	}
	// the entries' root blocks that are missing, in one fetch from the
	// directory's providers (entries are not announced on their own)
	var missing []cid.Cid
	for _, l := range links {
		ok, err := s.hasBlock(ctx, l.Cid)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, l.Cid)
		}
	}
	if len(missing) > 0 {
		if err := s.fetchBlocksUnder(ctx, c, missing); err != nil {
			return nil, fmt.Errorf("files: ls %s: %w", c, err)
		}
	}
	out := make([]Entry, 0, len(links))
	for _, l := range links {
		child, err := s.node(ctx, l.Cid)
		if err != nil {
			return nil, fmt.Errorf("files: ls %s: entry %s: %w", c, l.Name, err)
		}
		out = append(out, s.entry(ctx, l.Name, child))
	}
	return out, nil
}

// maxShardDepth bounds the levels of a HAMT directory walked (a fanout of
// 256 needs 4 for 2^32 entries; a hostile DAG could nest deeper).
const maxShardDepth = 16

// fetchShards makes the HAMT shard nodes under the directory node nd
// local, level by level, asking the providers of root; the entries (files
// and subdirectories) are not fetched. A basic directory needs nothing.
func (s *Service) fetchShards(ctx context.Context, root cid.Cid, nd ipld.Node) error {
	level := []ipld.Node{nd}
	for depth := 0; len(level) > 0; depth++ {
		if depth == maxShardDepth {
			return fmt.Errorf("HAMT directory %s nests deeper than %d levels", root, maxShardDepth)
		}
		var shards, missing []cid.Cid
		for _, n := range level {
			pn, ok := n.(*merkledag.ProtoNode)
			if !ok {
				continue
			}
			fs, err := ft.FSNodeFromBytes(pn.Data())
			if err != nil || fs.Type() != ft.THAMTShard || fs.Fanout() < 2 {
				continue
			}
			// links to shards are named by their index alone, in hex
			// padded to the fanout's width; entries add their name to it
			pad := len(fmt.Sprintf("%X", fs.Fanout()-1))
			for _, l := range pn.Links() {
				if len(l.Name) != pad {
					continue
				}
				shards = append(shards, l.Cid)
				ok, err := s.hasBlock(ctx, l.Cid)
				if err != nil {
					return err
				}
				if !ok {
					missing = append(missing, l.Cid)
				}
			}
		}
		if len(missing) > 0 {
			if err := s.fetchBlocksUnder(ctx, root, missing); err != nil {
				return err
			}
		}
		level = level[:0]
		for _, c := range shards {
			n, err := s.dag.Get(ctx, c)
			if err != nil {
				return err
			}
			level = append(level, n)
		}
	}
	return nil
}

func (s *Service) entry(_ context.Context, name string, nd ipld.Node) Entry {
	e := Entry{Name: name, CID: nd.Cid(), Dir: isDir(nd)}
	switch n := nd.(type) {
	case *merkledag.RawNode:
		e.Size = uint64(len(n.RawData()))
	case *merkledag.ProtoNode:
		if fs, err := ft.FSNodeFromBytes(n.Data()); err == nil && !e.Dir {
			e.Size = fs.FileSize()
		} else if sz, err := n.Size(); err == nil {
			e.Size = sz
		}
	}
	return e
}

// isDir reports whether nd is a UnixFS directory or HAMT shard.
func isDir(nd ipld.Node) bool {
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return false
	}
	fs, err := ft.FSNodeFromBytes(pn.Data())
	if err != nil {
		return false
	}
	return fs.Type() == ft.TDirectory || fs.Type() == ft.THAMTShard
}

// Stat describes c from what is local; only the root block is fetched when
// it is missing.
func (s *Service) Stat(ctx context.Context, c cid.Cid) (Stat, error) {
	nd, err := s.node(ctx, c)
	if err != nil {
		return Stat{}, err
	}
	st := Stat{CID: c, Dir: isDir(nd)}
	if !st.Dir {
		st.Size = s.entry(ctx, "", nd).Size
	}
	var total, local int
	var fileBytes uint64
	err = s.walk(ctx, c, false, func(v visit) error {
		total++
		if v.present {
			local++
		}
		if st.Dir && v.parentDir && v.present {
			if v.raw {
				fileBytes += uint64(v.size)
			} else if fs, err := ft.FSNodeFromBytes(v.node.Data()); err == nil && fs.Type() == ft.TFile {
				fileBytes += fs.FileSize()
			}
		}
		return nil
	})
	if err != nil {
		return Stat{}, err
	}
	st.LocalBlocks = local
	st.Local = local == total
	if st.Local {
		st.Blocks = total
		if st.Dir {
			st.Size = fileBytes
		}
	} else if st.Dir {
		st.Size = 0
	}
	st.Pinned, err = s.isPinned(ctx, c)
	if err != nil {
		return Stat{}, err
	}
	return st, nil
}
