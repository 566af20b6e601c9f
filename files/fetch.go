package files

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FetchProgress tells how far a fetch has got.
type FetchProgress struct {
	Bytes, TotalBytes   uint64 // DAG bytes stored (including those stored before), DAG size (0 while unknown)
	Blocks, TotalBlocks int    // blocks stored, blocks known so far
	Peers               int    // peers that served blocks so far
}

// Fetched is the result of Fetch.
type Fetched struct {
	CID      cid.Cid
	Bytes    uint64 // bytes fetched from peers by this call
	Blocks   int    // blocks fetched from peers by this call
	Peers    int    // peers that served them
	Duration time.Duration
}

// fastGrace is how long the bitswap path leaves the work to providers that
// speak the block protocol before it starts asking connected peers.
const fastGrace = 300 * time.Millisecond

// Fetch makes the whole DAG under c local (blocks already stored are not
// fetched again: an interrupted fetch resumes), from every provider found,
// verifying every block against its CID. Providers that speak the block
// protocol serve whole subtrees as CARs, in parallel; other peers are asked
// with bitswap. With no block arriving for the fetch timeout it fails with
// ErrNotFound, saying how many providers were tried.
func (s *Service) Fetch(ctx context.Context, c cid.Cid, progress func(FetchProgress)) (Fetched, error) {
	release, err := s.hold(ctx)
	if err != nil {
		return Fetched{}, err
	}
	defer release()
	return s.fetch(ctx, c, progress)
}

func fetchKey(c cid.Cid) datastore.Key { return datastore.NewKey(fetchPrefix).ChildString(c.String()) }

// fetch is Fetch without the GC lock (the caller holds it).
func (s *Service) fetch(ctx context.Context, c cid.Cid, progress func(FetchProgress)) (Fetched, error) {
	if !c.Defined() {
		return Fetched{}, errors.New("files: fetch: undefined CID")
	}
	mk := fetchKey(c)
	// A marker left by a fetch that did not finish because the process
	// died: its blocks may not have reached the disk, so check them.
	resume, err := s.meta.Has(ctx, mk)
	if err != nil {
		return Fetched{}, err
	}
	f, err := s.fetchBlocks(ctx, []cid.Cid{c}, true, progress, func() error {
		if err := s.meta.Put(ctx, mk, nil); err != nil {
			return err
		}
		return s.meta.Sync(ctx, mk)
	}, resume)
	if err != nil && f == nil {
		return Fetched{}, err
	}
	// Blocks stored so far are complete files (flatfs renames them into
	// place); make them durable so the marker can go, also on failure.
	if cerr := s.store.commit(); cerr != nil && err == nil {
		err = cerr
	}
	if cerr := s.meta.Delete(context.WithoutCancel(ctx), mk); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return Fetched{}, err
	}
	res := f.result()
	if res.Blocks > 0 {
		s.publish(EventFetched, FetchedEvent{Fetched: res})
	}
	return res, nil
}

// fetchBlocksRoots makes the blocks roots local (not their DAGs).
func (s *Service) fetchBlocksRoots(ctx context.Context, roots []cid.Cid) error {
	_, err := s.fetchBlocks(ctx, roots, false, nil, nil, false)
	return err
}

// fetchBlocksUnder makes the blocks cs local (not their DAGs), asking the
// providers of under, a DAG that holds them (only roots are announced).
func (s *Service) fetchBlocksUnder(ctx context.Context, under cid.Cid, cs []cid.Cid) error {
	_, err := s.fetchBlocksFrom(ctx, under, cs, false, nil, nil, false)
	return err
}

// fetch state
type fetch struct {
	s         *Service
	root      cid.Cid
	find      cid.Cid // whose providers are asked (root, or a DAG holding the roots)
	recursive bool
	progress  func(FetchProgress)
	start     time.Time

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change of the queue
	queue      []*item
	pending    int                  // items queued or being fetched
	fast       map[peer.ID]bool     // providers with a running block-protocol worker
	peers      map[peer.ID]struct{} // peers that served blocks
	want       map[string]struct{}  // blocks asked for with bitswap
	seen       map[string]struct{}  // blocks counted
	tried      int                  // providers found
	connecting int                  // providers being connected to
	findDone   bool
	err        error
	lastBlock  time.Time
	lastEvent  time.Time

	w          *writer       // stores verified blocks in parallel
	progressMu sync.Mutex    // serializes progress calls
	inflight   chan struct{} // block protocol requests in flight (maxInFlight)

	bytes, fetchedBytes   uint64
	blocks, fetchedBlocks int
	totalBytes            uint64
	known                 int

	unflushed uint64         // bytes stored since the last background flush started
	flushing  bool           // a background flush runs
	flushes   sync.WaitGroup // background flushes
}

// flushEvery is how many fetched bytes start a background flush of the
// block store (policy SyncCommit): the flush a fetch ends with (syncfs)
// then has at most this much to write, instead of the whole DAG (the
// kernel starts writing dirty pages back only at 10% of the memory), and
// the disk writes while the network carries.
const flushEvery = 64 << 20

type item struct {
	c        cid.Cid
	size     uint64               // its DAG's size from the parent's link; 0 when unknown
	dirEntry bool                 // linked from a UnixFS directory (or HAMT shard)
	skip     map[peer.ID]struct{} // providers that did not send it
}

// Block protocol batches: a subtree whose DAG is at most maxSubtree bytes
// (by its parent's link) is asked for whole; a bigger or unknown one block
// by block, so that its subtrees spread over the providers. A request asks
// for up to maxBatchItems items or maxBatchBytes.
const (
	maxSubtree    = 64 << 20
	maxBatchItems = 32
	maxBatchBytes = 8 << 20
)

// recursive reports whether the block protocol asks for it.c's whole DAG.
// A directory entry (a file or a directory) is asked for alone: the node
// may hold some of what is under it already (a file fetched on its own
// before), which an answer with the whole subtree would bring again. Once
// its block is here, what is missing under it is known and asked for.
// Inside a file the blocks under a missing node are missing too.
func (it *item) recursive() bool {
	return it.c.Type() == cid.DagProtobuf && it.size > 0 && it.size <= maxSubtree && !it.dirEntry
}

// fetchBlocks makes the blocks roots local, with their DAGs when
// recursive. before runs once it is known that something must be fetched;
// with verifyLocal stored blocks are checked against their CIDs.
func (s *Service) fetchBlocks(ctx context.Context, roots []cid.Cid, recursive bool, progress func(FetchProgress),
	before func() error, verifyLocal bool) (*fetch, error) {
	var find cid.Cid
	if len(roots) > 0 {
		find = roots[0]
	}
	return s.fetchBlocksFrom(ctx, find, roots, recursive, progress, before, verifyLocal)
}

// fetchBlocksFrom is fetchBlocks asking the providers of find.
func (s *Service) fetchBlocksFrom(ctx context.Context, find cid.Cid, roots []cid.Cid, recursive bool, progress func(FetchProgress),
	before func() error, verifyLocal bool) (*fetch, error) {
	f := &fetch{s: s, recursive: recursive, progress: progress, start: time.Now(),
		changed: make(chan struct{}), fast: map[peer.ID]bool{}, peers: map[peer.ID]struct{}{},
		want: map[string]struct{}{}, seen: map[string]struct{}{}, lastBlock: time.Now(),
		inflight: make(chan struct{}, maxInFlight)}
	if len(roots) > 0 {
		f.root = roots[0]
	}
	f.find = find
	var missing []*item
	for _, r := range roots {
		items, err := f.expand(ctx, r, 0, false, nil, verifyLocal)
		if err != nil {
			return nil, err
		}
		missing = append(missing, items...)
	}
	if len(missing) == 0 {
		f.report(true)
		return f, nil
	}
	if s.isClosed() || s.bitswap == nil {
		return nil, fmt.Errorf("files: %s is not stored here and the service is offline: %w", f.root, ErrNotFound)
	}
	if before != nil {
		if err := before(); err != nil {
			return nil, err
		}
	}
	return f, f.run(ctx, missing)
}

// expand returns the missing blocks under c (c itself when missing, or
// when not recursive), counting the stored ones. size is c's DAG size from
// its parent's link (0 if unknown); dirEntry tells that its parent is a
// directory.
func (f *fetch) expand(ctx context.Context, c cid.Cid, size uint64, dirEntry bool, skip map[peer.ID]struct{}, verifyLocal bool) ([]*item, error) {
	if !f.recursive {
		ok, err := f.s.hasBlock(ctx, c)
		if err != nil || ok {
			return nil, err
		}
		return []*item{{c: c, skip: skip}}, nil
	}
	var out []*item
	err := f.s.walk(ctx, c, verifyLocal, func(v visit) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		k := string(v.cid.Hash())
		if _, ok := f.seen[k]; ok {
			return errSkipChildren
		}
		if !v.present {
			sz, de := v.linkSize, v.parentDir
			if v.cid.Equals(c) {
				sz, de = size, dirEntry
			}
			out = append(out, &item{c: v.cid, size: sz, dirEntry: de, skip: skip})
			return nil
		}
		f.seen[k] = struct{}{}
		f.countLocked(v.cid, v.size, v.node)
		return nil
	})
	return out, err
}

// countLocked counts a stored block; nd is the decoded dag-pb node or nil.
func (f *fetch) countLocked(c cid.Cid, size int, nd *merkledag.ProtoNode) {
	f.bytes += uint64(size)
	f.blocks++
	if f.known < f.blocks {
		f.known = f.blocks
	}
	if nd != nil {
		f.known += len(nd.Links())
	}
	if c.Equals(f.root) {
		f.totalBytes = uint64(size)
		if nd != nil {
			for _, l := range nd.Links() {
				f.totalBytes += l.Size
			}
		}
	}
}

func (f *fetch) run(ctx context.Context, missing []*item) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s := f.s
	s.fetchMu.Lock()
	s.fetches[f] = struct{}{}
	s.fetchMu.Unlock()
	defer func() {
		s.fetchMu.Lock()
		delete(s.fetches, f)
		s.fetchMu.Unlock()
	}()
	f.enqueue(missing)
	// Blocks already verified are stored even when the fetch is cancelled:
	// the next fetch resumes from them.
	f.w = newWriter(context.WithoutCancel(ctx), s.bs, f.account, func(err error) {
		f.fail(fmt.Errorf("files: store blocks of %s: %w", f.root, err))
	})

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); f.findProviders(ctx, &wg) }()
	go func() { defer wg.Done(); f.bitswapWorker(ctx) }()
	go func() { defer wg.Done(); f.watchdog(ctx, cancel) }()

	err := f.wait(ctx)
	cancel(nil)
	wg.Wait()
	if werr := f.w.close(); err == nil {
		err = werr
	}
	f.flushes.Wait()
	f.report(true)
	return err
}

// wait returns when every block is stored or the fetch failed.
func (f *fetch) wait(ctx context.Context) error {
	for {
		f.mu.Lock()
		pending, err, ch := f.pending, f.err, f.changed
		f.mu.Unlock()
		if err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			return ctx.Err()
		}
	}
}

// notifyLocked wakes everyone waiting on a change.
func (f *fetch) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fetch) enqueue(items []*item) {
	if len(items) == 0 {
		return
	}
	f.mu.Lock()
	f.queue = append(f.queue, items...)
	f.pending += len(items)
	f.notifyLocked()
	f.mu.Unlock()
}

// done marks n taken items as finished (stored, or requeued separately).
func (f *fetch) done(n int) {
	f.mu.Lock()
	f.pending -= n
	f.notifyLocked()
	f.mu.Unlock()
}

// fail ends the fetch with err.
func (f *fetch) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.notifyLocked()
	f.mu.Unlock()
}

// take waits for items the worker may fetch: a block-protocol worker for
// peer p (fast) takes one dag-pb subtree or up to max raw leaves it has not
// failed on; the bitswap worker takes up to max blocks when no such worker
// could. It returns nil when the fetch is over.
func (f *fetch) take(ctx context.Context, p peer.ID, fast bool, max int) []*item {
	for {
		f.mu.Lock()
		if f.err != nil || f.pending == 0 || ctx.Err() != nil || (fast && !f.fast[p]) {
			f.mu.Unlock()
			return nil
		}
		var out []*item
		var bytes uint64
		rest := f.queue[:0]
		for _, it := range f.queue {
			full := len(out) >= max || (fast && bytes >= maxBatchBytes)
			if !full && f.eligibleLocked(it, p, fast) {
				out = append(out, it)
				bytes += it.size
				continue
			}
			rest = append(rest, it)
		}
		for i := len(rest); i < len(f.queue); i++ {
			f.queue[i] = nil
		}
		f.queue = rest
		ch := f.changed
		f.mu.Unlock()
		if len(out) > 0 {
			return out
		}
		var tick <-chan time.Time
		var t *time.Timer
		if !fast {
			t = time.NewTimer(fastGrace)
			tick = t.C
		}
		select {
		case <-ch:
		case <-tick:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (f *fetch) eligibleLocked(it *item, p peer.ID, fast bool) bool {
	if fast {
		_, skipped := it.skip[p]
		return !skipped && f.fast[p]
	}
	// bitswap: when no block-protocol worker can take it, once the
	// providers found so far are connected (or after fastGrace when the
	// search or the connections take long)
	if (!f.findDone || f.connecting > 0) && time.Since(f.start) < fastGrace {
		return false
	}
	for q, alive := range f.fast {
		if _, skipped := it.skip[q]; alive && !skipped {
			return false
		}
	}
	return true
}

// requeue puts back items that were taken but not fetched, with p (if
// any) added to those that did not send them.
func (f *fetch) requeue(ctx context.Context, items []*item, p peer.ID) {
	for _, it := range items {
		if p != "" {
			skip := make(map[peer.ID]struct{}, len(it.skip)+1)
			for q := range it.skip {
				skip[q] = struct{}{}
			}
			skip[p] = struct{}{}
			it.skip = skip
		}
	}
	f.enqueue(items)
	f.done(len(items))
}

// links returns the links of a dag-pb block (nil for a raw one) and
// whether it is a UnixFS directory; a block that is not valid dag-pb fails
// verification.
func links(b blocks.Block) ([]*ipld.Link, bool, error) {
	if b.Cid().Type() != cid.DagProtobuf {
		return nil, false, nil
	}
	nd, err := merkledag.DecodeProtobuf(b.RawData())
	if err != nil {
		return nil, false, fmt.Errorf("%w: %s is not a dag-pb node: %v", ErrVerify, b.Cid(), err)
	}
	return nd.Links(), isDir(nd), nil
}

// account records a block fetched from a.p (empty when unknown) once it
// is stored.
func (f *fetch) account(a arrival) {
	b := a.b
	var nd *merkledag.ProtoNode
	if b.Cid().Type() == cid.DagProtobuf {
		nd, _ = merkledag.DecodeProtobuf(b.RawData())
	}
	f.mu.Lock()
	k := string(b.Cid().Hash())
	if _, ok := f.seen[k]; !ok {
		f.seen[k] = struct{}{}
		f.countLocked(b.Cid(), len(b.RawData()), nd)
		f.fetchedBytes += uint64(len(b.RawData()))
		f.fetchedBlocks++
		f.unflushed += uint64(len(b.RawData()))
		if f.unflushed >= flushEvery && !f.flushing && f.s.store.commits() {
			f.unflushed, f.flushing = 0, true
			f.flushes.Add(1)
			go f.flush()
		}
	}
	delete(f.want, b.Cid().KeyString())
	if a.p != "" {
		f.peers[a.p] = struct{}{}
	}
	f.lastBlock = time.Now()
	f.mu.Unlock()
	f.s.arrived()
	f.report(false)
}

// flush makes the blocks stored so far durable in the background; an
// error is left to the flush at the end of the fetch.
func (f *fetch) flush() {
	defer f.flushes.Done()
	_ = f.s.store.commit()
	f.mu.Lock()
	f.flushing = false
	f.mu.Unlock()
}

func (f *fetch) wanted(c cid.Cid) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.want[c.KeyString()]
	return ok
}

func (f *fetch) addPeer(p peer.ID) {
	f.mu.Lock()
	f.peers[p] = struct{}{}
	f.mu.Unlock()
}

// report calls the progress callback (for every block stored) and
// publishes the progress event (at most 4 times a second, always when
// final).
func (f *fetch) report(final bool) {
	if f.progress == nil && (f.s.cfg.pub == nil || !f.recursive) {
		return
	}
	f.mu.Lock()
	p := FetchProgress{Bytes: f.bytes, TotalBytes: f.totalBytes, Blocks: f.blocks, TotalBlocks: f.known, Peers: len(f.peers)}
	now := time.Now()
	event := f.recursive && (final || now.Sub(f.lastEvent) >= 250*time.Millisecond)
	if event {
		f.lastEvent = now
	}
	f.mu.Unlock()
	if f.progress != nil {
		// blocks are stored by parallel writers: one call at a time
		f.progressMu.Lock()
		f.progress(p)
		f.progressMu.Unlock()
	}
	if event {
		f.s.publish(EventFetchProgress, FetchProgressEvent{CID: f.root, FetchProgress: p})
	}
}

func (f *fetch) result() Fetched {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Fetched{CID: f.root, Bytes: f.fetchedBytes, Blocks: f.fetchedBlocks, Peers: len(f.peers), Duration: time.Since(f.start)}
}

// watchdog fails the fetch with ErrNotFound when no block has arrived for
// the fetch timeout.
func (f *fetch) watchdog(ctx context.Context, cancel context.CancelCauseFunc) {
	timeout := f.s.cfg.timeout
	tick := time.NewTicker(min(timeout/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		f.mu.Lock()
		idle, tried, blocks := time.Since(f.lastBlock), f.tried, f.fetchedBlocks
		f.mu.Unlock()
		if idle < timeout {
			continue
		}
		what := "no block of it arrived"
		if blocks > 0 {
			what = "no further block arrived"
		}
		err := fmt.Errorf("files: %s: %w: %s within %s (%d providers tried)", f.root, ErrNotFound, what, timeout, tried)
		f.fail(err)
		cancel(err)
		return
	}
}

// findProviders looks the root up on the DHT, connects to each provider
// and starts a block-protocol worker for it.
func (f *fetch) findProviders(ctx context.Context, wg *sync.WaitGroup) {
	defer func() {
		f.mu.Lock()
		f.findDone = true
		f.notifyLocked()
		f.mu.Unlock()
	}()
	s := f.s
	if s.router == nil {
		return
	}
	for ai := range s.router.FindProvidersAsync(ctx, f.find, 20) {
		if ai.ID == s.host.ID() || ai.ID == "" {
			continue
		}
		f.mu.Lock()
		f.tried++
		f.mu.Unlock()
		if s.bad.isBad(ai.ID) {
			continue
		}
		f.mu.Lock()
		f.connecting++
		f.mu.Unlock()
		wg.Add(1)
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := s.host.Connect(cctx, ai)
			cancel()
			start := err == nil && f.markFast(ai.ID)
			f.mu.Lock()
			f.connecting--
			f.notifyLocked()
			f.mu.Unlock()
			if start {
				f.fastWorker(ctx, ai.ID)
			}
		}(ai)
	}
}

// bitswapWorker fetches with bitswap what no block-protocol provider can.
func (f *fetch) bitswapWorker(ctx context.Context) {
	sess := f.s.bitswap.NewSession(ctx)
	for {
		items := f.take(ctx, "", false, 64)
		if items == nil {
			return
		}
		keys := make([]cid.Cid, len(items))
		f.mu.Lock()
		for i, it := range items {
			keys[i] = it.c
			f.want[it.c.KeyString()] = struct{}{}
		}
		f.mu.Unlock()
		bctx, bcancel := context.WithCancel(ctx)
		ch, err := sess.GetBlocks(bctx, keys)
		if err != nil {
			bcancel()
			f.requeue(ctx, items, "")
			return
		}
		got := make(map[string]bool, len(items))
		tick := time.NewTicker(250 * time.Millisecond)
	recv:
		for len(got) < len(items) {
			select {
			case b, ok := <-ch:
				if !ok {
					break recv
				}
				if err := verify(b.Cid(), b.RawData()); err != nil {
					continue // bitswap hashes what it receives; never expected
				}
				ls, dir, err := links(b)
				if err != nil {
					continue
				}
				if err := f.w.put(ctx, arrival{b: b}); err != nil {
					break recv
				}
				got[b.Cid().KeyString()] = true
				if !f.recursive {
					// only the blocks asked for (Stat, Ls): not their DAGs
					continue
				}
				for _, l := range ls {
					more, err := f.expand(ctx, l.Cid, l.Size, dir, nil, false)
					if err != nil {
						f.fail(err)
						break recv
					}
					f.enqueue(more)
				}
			case <-tick.C:
				// a block-protocol provider turned up: leave it the rest
				f.mu.Lock()
				alive := 0
				for _, a := range f.fast {
					if a {
						alive++
					}
				}
				f.mu.Unlock()
				if alive > 0 {
					break recv
				}
			case <-ctx.Done():
				break recv
			}
		}
		tick.Stop()
		bcancel()
		var rest []*item
		for _, it := range items {
			if !got[it.c.KeyString()] {
				rest = append(rest, it)
			}
		}
		f.mu.Lock()
		for _, it := range rest {
			delete(f.want, it.c.KeyString())
		}
		f.mu.Unlock()
		f.enqueue(rest)
		f.done(len(items))
	}
}
