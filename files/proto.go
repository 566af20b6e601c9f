package files

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multistream"
)

// The block protocol (BlockProtocol under the DHT's prefix): the client
// writes a request and closes its side; the server answers with a CAR v1
// stream of the blocks it has, each requested block followed, for a
// recursive request, by its DAG in depth-first pre-order (each block once
// per answer), and closes the stream. Blocks it lacks are left out; the
// client fetches them elsewhere.
//
// Request: uvarint count (1..maxRequestItems), then per item a flags byte
// (1: recursive) and a uvarint-length-prefixed binary CID.
const (
	maxRequestItems = 1024
	maxCIDLen       = 128
	maxBlockSize    = 2 << 20 // bitswap's limit
	maxServeStreams = 16
	badPeerPenalty  = 10 * time.Minute
)

// badPeers remembers peers that sent a block failing verification: they
// are not asked again for a while.
type badPeers struct {
	mu    sync.Mutex
	until map[peer.ID]time.Time
}

func newBadPeers() *badPeers { return &badPeers{until: map[peer.ID]time.Time{}} }

func (b *badPeers) penalise(p peer.ID) {
	b.mu.Lock()
	b.until[p] = time.Now().Add(badPeerPenalty)
	b.mu.Unlock()
}

func (b *badPeers) isBad(p peer.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.until[p]
	if ok && time.Now().After(t) {
		delete(b.until, p)
		return false
	}
	return ok
}

// markFast counts a provider that has a block-protocol worker; it returns
// false when p has one already.
func (f *fetch) markFast(p peer.ID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, running := f.fast[p]; running {
		return false
	}
	f.fast[p] = true
	f.notifyLocked()
	return true
}

// fastWorker fetches from p over the block protocol until the fetch is
// over, p fails, or p turns out not to speak the protocol, with up to
// streamsPerPeer requests in flight (the provider reads its disk, the
// network carries, and this node verifies and writes in parallel).
func (f *fetch) fastWorker(ctx context.Context, p peer.ID) {
	defer func() {
		f.mu.Lock()
		f.fast[p] = false
		f.notifyLocked()
		f.mu.Unlock()
	}()
	var wg sync.WaitGroup
	for range streamsPerPeer {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.fastLoop(ctx, p)
		}()
	}
	wg.Wait()
}

// streamsPerPeer is how many block protocol requests a fetch keeps in
// flight to one provider.
const streamsPerPeer = 4

// maxInFlight bounds a fetch's block protocol requests over all
// providers: each can hold a stream window of data in memory.
const maxInFlight = 8

func (f *fetch) fastLoop(ctx context.Context, p peer.ID) {
	for {
		items := f.take(ctx, p, true, maxBatchItems)
		if items == nil {
			return
		}
		// a slot is taken only with work in hand: slots are always held by
		// requests that end
		select {
		case f.inflight <- struct{}{}:
		case <-ctx.Done():
			f.requeue(ctx, items, "")
			return
		}
		leftover, err := f.request(ctx, p, items)
		<-f.inflight
		notSupported := errors.As(err, new(multistream.ErrNotSupported[string])) || errors.Is(err, multistream.ErrNotSupported[string]{})
		if errors.Is(err, ErrVerify) || notSupported {
			// p is done for this fetch: the other loops stop taking
			f.mu.Lock()
			f.fast[p] = false
			f.notifyLocked()
			f.mu.Unlock()
		}
		f.enqueue(leftover)
		f.done(len(items))
		if err != nil {
			switch {
			case ctx.Err() != nil:
			case errors.Is(err, ErrVerify):
				f.s.bad.penalise(p)
				f.s.log.Warn("a provider sent a block that does not match its CID: not asking it again for a while",
					"peer", p, "err", err)
			case notSupported:
				f.s.log.Debug("provider does not speak the block protocol; bitswap serves it", "peer", p)
			default:
				f.s.log.Debug("block protocol request failed", "peer", p, "err", err)
			}
			return
		}
	}
}

// request asks p for items and stores what it sends, verified. It returns
// the blocks still missing (including children of received blocks), with
// p marked as not having them.
func (f *fetch) request(ctx context.Context, p peer.ID, items []*item) (leftover []*item, err error) {
	s := f.s
	// expected: blocks p may send now; recursive ones bring their children.
	type exp struct {
		recursive bool
		size      uint64
		dirEntry  bool
	}
	expected := make(map[string]exp, len(items))
	for _, it := range items {
		expected[it.c.KeyString()] = exp{it.recursive(), it.size, it.dirEntry}
	}
	defer func() {
		if len(expected) == 0 {
			return
		}
		skip := map[peer.ID]struct{}{p: {}}
		for _, it := range items {
			if _, missing := expected[it.c.KeyString()]; missing {
				for q := range it.skip {
					skip[q] = struct{}{}
				}
			}
		}
		for k, e := range expected {
			c, _ := cid.Cast([]byte(k))
			more, xerr := f.expand(ctx, c, e.size, e.dirEntry, skip, false)
			if xerr != nil && err == nil {
				err = xerr
			}
			leftover = append(leftover, more...)
		}
	}()

	str, err := s.host.NewStream(network.WithAllowLimitedConn(ctx, "files"), p, s.blockProtocol())
	if err != nil {
		return nil, err
	}
	defer str.Close()
	stop := context.AfterFunc(ctx, func() { str.Reset() })
	defer stop()

	reqs := make([]blockReq, len(items))
	for i, it := range items {
		reqs[i] = blockReq{c: it.c, recursive: it.recursive()}
	}
	if _, err := str.Write(appendBlockRequest(nil, reqs)); err != nil {
		str.Reset()
		return nil, err
	}
	if err := str.CloseWrite(); err != nil {
		str.Reset()
		return nil, err
	}

	timeout := s.cfg.timeout
	_ = str.SetReadDeadline(time.Now().Add(timeout))
	// small: a block's bytes are read straight into its buffer
	r := bufio.NewReaderSize(str, 4<<10)
	if err := skipCARHeader(r); err != nil {
		str.Reset()
		return nil, fmt.Errorf("block protocol answer from %s: %w", p, err)
	}
	// The stream is read by its own goroutine, ahead of verification and
	// storing: yamux grows a stream's receive window only when the reader
	// consumes it quickly (half a window within 4 RTTs); a reader that
	// hashes every block in between keeps the window at its initial 256 KiB
	// and the stream at a fraction of its speed.
	sections := make(chan section, readAhead)
	stopRead := make(chan struct{})
	defer close(stopRead)
	var pool bufPool // nil: each block keeps its own buffer, which the store keeps
	if s.store.copies() {
		pool = &alignedBufs
	}
	go readSections(r, str, timeout, pool, sections, stopRead)
	for {
		sec, open := <-sections
		if !open {
			return nil, nil
		}
		c, data, err := sec.c, sec.data, sec.err
		if err != nil {
			str.Reset()
			return nil, fmt.Errorf("block protocol answer from %s: %w", p, err)
		}
		if sec.buf != nil && c.Type() != cid.Raw {
			// only raw leaves go back to the pool: nothing keeps them once stored
			sec.buf = nil
		}
		e, ok := expected[c.KeyString()]
		if !ok {
			str.Reset()
			return nil, fmt.Errorf("%w: %s sent %s, which was not asked for", ErrVerify, p, c)
		}
		b, err := verifiedBlock(c, data)
		if err != nil {
			str.Reset()
			return nil, fmt.Errorf("from %s: %w", p, err)
		}
		ls, dir, err := links(b)
		if err != nil {
			str.Reset()
			return nil, fmt.Errorf("from %s: %w", p, err)
		}
		if err := f.w.put(ctx, arrival{b: b, p: p, buf: sec.buf}); err != nil {
			str.Reset()
			return nil, err
		}
		delete(expected, c.KeyString())
		if !f.recursive {
			// only the blocks asked for (Stat, Ls): not their DAGs
			continue
		}
		for _, l := range ls {
			if e.recursive {
				// the rest of the subtree follows in this answer
				if _, done := f.isSeen(l.Cid); !done {
					expected[l.Cid.KeyString()] = exp{true, l.Size, false}
				}
				continue
			}
			// a block asked for alone: its children are new work for any provider
			more, err := f.expand(ctx, l.Cid, l.Size, dir, nil, false)
			if err != nil {
				str.Reset()
				return nil, err
			}
			f.enqueue(more)
		}
	}
}

// readAhead is how many blocks a block protocol answer's reader may hold
// before they are verified (up to 2 MiB per stream of 256 KiB blocks).
const readAhead = 8

// section is a CAR section read from an answer, or the error that ended it.
type section struct {
	c    cid.Cid
	data []byte
	buf  *[]byte // from the pool readSections was given, or nil
	err  error
}

// readSections reads r's CAR sections into out until the answer ends
// (out is closed after a clean end; an error is sent as the last section)
// or stop is closed. Section buffers come from pool (see readSectionBuf).
func readSections(r *bufio.Reader, str network.Stream, timeout time.Duration, pool bufPool, out chan<- section, stop <-chan struct{}) {
	for {
		_ = str.SetReadDeadline(time.Now().Add(timeout))
		c, data, buf, err := readSectionBuf(r, pool)
		if err == io.EOF {
			close(out)
			return
		}
		select {
		case out <- section{c: c, data: data, buf: buf, err: err}:
		case <-stop:
			if buf != nil {
				pool.Put(buf)
			}
			return
		}
		if err != nil {
			return
		}
	}
}

func (f *fetch) isSeen(c cid.Cid) (struct{}, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.seen[string(c.Hash())]
	return v, ok
}

// serveBlocks answers a block protocol request from the local store.
func (s *Service) serveBlocks(str network.Stream) {
	defer str.Close()
	// at most maxServeStreams answers at once; others wait their turn a while
	wctx, wcancel := context.WithTimeout(s.ctx, 10*time.Second)
	err := s.serving.Acquire(wctx, 1)
	wcancel()
	if err != nil {
		str.Reset()
		return
	}
	defer s.serving.Release(1)
	_ = str.SetReadDeadline(time.Now().Add(10 * time.Second))
	reqs, err := readBlockRequest(str)
	if err != nil {
		str.Reset()
		return
	}
	_ = str.SetReadDeadline(time.Time{})
	roots := make([]cid.Cid, len(reqs))
	for i, q := range reqs {
		roots[i] = q.c
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	w := bufio.NewWriterSize(str, 64<<10)
	if err := writeCARHeader(w, roots); err != nil {
		str.Reset()
		return
	}
	seen := make(map[string]struct{})
	for _, q := range reqs {
		if err := s.writeDAG(ctx, w, q.c, q.recursive, seen); err != nil {
			str.Reset()
			return
		}
	}
	if err := w.Flush(); err != nil {
		str.Reset()
	}
}

// blockReq is one item of a block protocol request: a CID, and whether its
// DAG is asked for too.
type blockReq struct {
	c         cid.Cid
	recursive bool
}

// maxRequestBytes is as much of a request as a server reads: maxRequestItems
// items of the longest CID with their flags and lengths, and the count.
const maxRequestBytes = maxRequestItems*(maxCIDLen+4) + 16

// readBlockRequest reads a block protocol request from r, at most
// maxRequestBytes of it: 1..maxRequestItems items of valid CIDs.
func readBlockRequest(r io.Reader) ([]blockReq, error) {
	br := bufio.NewReader(io.LimitReader(r, maxRequestBytes))
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, fmt.Errorf("block request: %w", err)
	}
	if n == 0 || n > maxRequestItems {
		return nil, fmt.Errorf("block request of %d items", n)
	}
	reqs := make([]blockReq, 0, n)
	for i := range n {
		flags, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("block request item %d: %w", i, err)
		}
		l, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("block request item %d: %w", i, err)
		}
		if l == 0 || l > maxCIDLen {
			return nil, fmt.Errorf("block request item %d: CID of %d bytes", i, l)
		}
		b := make([]byte, l)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("block request item %d: %w", i, err)
		}
		c, err := cid.Cast(b)
		if err != nil {
			return nil, fmt.Errorf("block request item %d: %w", i, err)
		}
		reqs = append(reqs, blockReq{c: c, recursive: flags&1 == 1})
	}
	return reqs, nil
}

// appendBlockRequest appends the request for reqs to b, as
// readBlockRequest reads it.
func appendBlockRequest(b []byte, reqs []blockReq) []byte {
	b = binary.AppendUvarint(b, uint64(len(reqs)))
	for _, q := range reqs {
		flags := byte(0)
		if q.recursive {
			flags = 1
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(q.c.ByteLen()))
		b = append(b, q.c.KeyString()...)
	}
	return b
}

// writeDAG writes the block c and, when recursive, its DAG in depth-first
// pre-order, leaving out blocks it does not have.
func (s *Service) writeDAG(ctx context.Context, w io.Writer, root cid.Cid, recursive bool, seen map[string]struct{}) error {
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := seen[c.KeyString()]; ok {
			continue
		}
		seen[c.KeyString()] = struct{}{}
		if d, ok := s.bs.(*directBlockstore); ok && c.Type() == cid.Raw {
			data, buf, ok, err := d.readRaw(c)
			if err != nil {
				return err
			}
			if ok {
				err := writeSectionData(w, c, data)
				alignedBufs.Put(buf)
				if err != nil {
					return err
				}
				continue
			}
		}
		b, err := s.bs.Get(ctx, c)
		if ipld.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := writeSection(w, b); err != nil {
			return err
		}
		if !recursive || c.Type() != cid.DagProtobuf {
			continue
		}
		nd, err := merkledag.DecodeProtobuf(b.RawData())
		if err != nil {
			continue
		}
		links := nd.Links()
		for i := len(links) - 1; i >= 0; i-- {
			stack = append(stack, links[i].Cid)
		}
	}
	return nil
}

// CAR v1: a uvarint-prefixed dag-cbor header {"roots": [CIDs], "version": 1}
// then uvarint-prefixed sections of CID bytes followed by block data.

func writeCARHeader(w io.Writer, roots []cid.Cid) error {
	var h []byte
	h = append(h, 0xa2) // map(2)
	h = cborText(h, "roots")
	h = cborHead(h, 4, uint64(len(roots)))
	for _, c := range roots {
		h = append(h, 0xd8, 42) // tag(42): CID
		b := c.Bytes()
		h = cborHead(h, 2, uint64(len(b)+1))
		h = append(h, 0) // multibase identity prefix
		h = append(h, b...)
	}
	h = cborText(h, "version")
	h = append(h, 0x01)
	var buf [binary.MaxVarintLen64]byte
	if _, err := w.Write(buf[:binary.PutUvarint(buf[:], uint64(len(h)))]); err != nil {
		return err
	}
	_, err := w.Write(h)
	return err
}

func cborText(h []byte, s string) []byte { return append(cborHead(h, 3, uint64(len(s))), s...) }

func cborHead(h []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(h, m|byte(n))
	case n < 1<<8:
		return append(h, m|24, byte(n))
	case n < 1<<16:
		return append(h, m|25, byte(n>>8), byte(n))
	case n < 1<<32:
		return binary.BigEndian.AppendUint32(append(h, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(h, m|27), n)
}

func writeSection(w io.Writer, b blocks.Block) error {
	return writeSectionData(w, b.Cid(), b.RawData())
}

func writeSectionData(w io.Writer, id cid.Cid, data []byte) error {
	c := id.Bytes()
	var buf [binary.MaxVarintLen64]byte
	if _, err := w.Write(buf[:binary.PutUvarint(buf[:], uint64(len(c)+len(data)))]); err != nil {
		return err
	}
	if _, err := w.Write(c); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

func skipCARHeader(r *bufio.Reader) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("read CAR header: %w", err)
	}
	if n == 0 || n > 1<<20 {
		return fmt.Errorf("CAR header of %d bytes", n)
	}
	_, err = r.Discard(int(n))
	return err
}

// readSection reads one CAR section; io.EOF at a clean end.
func readSection(r *bufio.Reader) (cid.Cid, []byte, error) {
	c, data, _, err := readSectionBuf(r, nil)
	return c, data, err
}

// bufPool is a pool of *[]byte buffers of alignedBufSize: alignedBufs, or
// a test's pool that counts what is taken and given back.
type bufPool interface {
	Get() any
	Put(any)
}

// readSectionBuf is readSection, with the section's buffer taken from pool
// unless pool is nil (buf is then the buffer to give back to pool, nil when
// the section did not fit one). On error, nothing is left to give back. A
// section's CID has at most maxCIDLen bytes, its block at most maxBlockSize.
func readSectionBuf(r *bufio.Reader, pool bufPool) (cid.Cid, []byte, *[]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return cid.Undef, nil, nil, err // io.EOF: the answer ended between sections
	}
	if n == 0 || n > maxBlockSize+maxCIDLen {
		return cid.Undef, nil, nil, fmt.Errorf("CAR section of %d bytes", n)
	}
	if pool == nil {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return cid.Undef, nil, nil, inSection(err)
		}
		l, c, err := cid.CidFromBytes(buf)
		if err == nil {
			err = sectionLimits(l, n)
		}
		if err != nil {
			return cid.Undef, nil, nil, fmt.Errorf("CAR section: %w", err)
		}
		return c, buf[l:], nil, nil
	}
	// The CID first, then the data into an aligned buffer (written to disk
	// with O_DIRECT as it is). The CID is parsed from the buffered bytes:
	// cid.CidFromReader would allocate the digest length it reads (up to
	// 32 MiB) before reading the digest.
	head, perr := r.Peek(int(min(n, maxCIDLen)))
	l, c, err := cid.CidFromBytes(head)
	if err != nil && perr != nil {
		err = inSection(perr) // the answer ended, or failed, in the CID
	}
	if err == nil {
		err = sectionLimits(l, n)
	}
	if err != nil {
		return cid.Undef, nil, nil, fmt.Errorf("CAR section: %w", err)
	}
	r.Discard(l)
	size := n - uint64(l)
	var pb *[]byte
	var buf []byte
	if size <= alignedBufSize {
		pb = pool.Get().(*[]byte)
		buf = (*pb)[:size]
	} else {
		buf = make([]byte, size)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		if pb != nil {
			pool.Put(pb)
		}
		return cid.Undef, nil, nil, inSection(err)
	}
	return c, buf, pb, nil
}

// sectionLimits refuses a section of n bytes whose CID, of l bytes, is
// longer than maxCIDLen or whose block is larger than maxBlockSize.
func sectionLimits(l int, n uint64) error {
	if l > maxCIDLen {
		return fmt.Errorf("CID of %d bytes", l)
	}
	if size := n - uint64(l); size > maxBlockSize {
		return fmt.Errorf("block of %d bytes", size)
	}
	return nil
}

// inSection is err met inside a section: io.EOF there is unexpected (a
// clean end is only between sections).
func inSection(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
