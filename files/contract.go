// Package files is owned by the files helper (issue 12). This file holds only
// the types and errors of /work/wt/FILES.md so that the API can be coded
// against them before branch files lands; the merge of branch files
// replaces it.
package files

import (
	"errors"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

type AddOptions struct {
	OnlyHash bool
	Pin      bool
	Progress func(AddProgress)
}
type AddProgress struct{ Bytes uint64 }
type Added struct {
	CID    cid.Cid
	Size   uint64
	Blocks int
}
type FetchProgress struct {
	Bytes, TotalBytes   uint64
	Blocks, TotalBlocks int
	Peers               int
}
type Fetched struct {
	CID      cid.Cid
	Bytes    uint64
	Blocks   int
	Peers    int
	Duration time.Duration
}
type Entry struct {
	Name string
	CID  cid.Cid
	Size uint64
	Dir  bool
}
type Stat struct {
	CID         cid.Cid
	Dir         bool
	Size        uint64
	Blocks      int
	LocalBlocks int
	Local       bool
	Pinned      bool
}
type Pin struct {
	CID   cid.Cid
	Since time.Time
}
type GCResult struct {
	Blocks int
	Bytes  uint64
}

type AddedEvent struct {
	CID    cid.Cid
	Size   uint64
	Blocks int
}
type FetchProgressEvent struct {
	CID cid.Cid
	FetchProgress
}
type FetchedEvent struct{ Fetched }
type ProvidedEvent struct{ CID cid.Cid }

var (
	ErrNotFound  = errors.New("not found")
	ErrNotPinned = errors.New("not pinned")
	ErrNotFile   = errors.New("not a file")
	ErrNotDir    = errors.New("not a directory")
	ErrVerify    = errors.New("block verification failed")
)

var _ = peer.AddrInfo{}
