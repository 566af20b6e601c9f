// Package files shares files as content-addressed UnixFS DAGs, compatible
// with IPFS: the same CIDs as Kubo's `ipfs add --cid-version 1` (256 KiB
// chunks, balanced layout, raw leaves, CIDv1), blocks in a flatfs
// directory, pins in the node's datastore, bitswap for peers that speak
// only IPFS protocols, and a faster block protocol between Plexus nodes
// (CARs over libp2p streams, different subtrees from different providers
// in parallel). Every block fetched is verified against its CID before it
// is stored.
//
//	svc, err := files.New(h, ds, router, files.WithBlocksDir(dir))
//	svc.Start()
//	defer svc.Close()
//	added, err := svc.Add(ctx, bfiles.NewReaderFile(r), files.AddOptions{Pin: true})
package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/protocol"
	corerouting "github.com/libp2p/go-libp2p/core/routing"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sync/semaphore"

	pconfig "github.com/plexus-p2p/plexus/config"
)

// Events published on the node's bus.
const (
	EventAdded         = "files.added"          // AddedEvent
	EventFetchProgress = "files.fetch.progress" // FetchProgressEvent, at most 4 a second per fetch
	EventFetched       = "files.fetched"        // FetchedEvent
	EventProvided      = "files.provided"       // ProvidedEvent
)

// Errors for errors.Is.
var (
	// ErrNotFound: no provider had the content within the fetch timeout.
	ErrNotFound = errors.New("not found")
	// ErrNotPinned: Unpin of a CID that is not pinned.
	ErrNotPinned = errors.New("not pinned")
	// ErrNotFile: Cat of a directory.
	ErrNotFile = errors.New("not a file")
	// ErrNotDir: an operation that needs a directory got something else.
	ErrNotDir = errors.New("not a directory")
	// ErrVerify: a block did not match its CID.
	ErrVerify = errors.New("block does not match its CID")
	// ErrClosed: the service is closed.
	ErrClosed = errors.New("files service is closed")
)

// AddedEvent is the data of EventAdded.
type AddedEvent struct {
	CID    cid.Cid
	Size   uint64
	Blocks int
}

// FetchProgressEvent is the data of EventFetchProgress.
type FetchProgressEvent struct {
	CID cid.Cid
	FetchProgress
}

// FetchedEvent is the data of EventFetched.
type FetchedEvent struct{ Fetched }

// ProvidedEvent is the data of EventProvided: c was announced on the DHT.
type ProvidedEvent struct{ CID cid.Cid }

// Publisher receives the service's events (events.Bus).
type Publisher interface{ Publish(typ string, data any) }

// Sync policies of the block store (config files.sync).
const (
	// SyncCommit writes blocks without fsync and flushes the block
	// filesystem (syncfs) once before an add, fetch or pin is reported
	// complete or recorded: what the node says it has is durable, at one
	// flush per operation instead of two per block.
	SyncCommit = "commit"
	// SyncBlock fsyncs every block file and its directory (Kubo's flatfs
	// default).
	SyncBlock = "block"
	// SyncNone never flushes; a power loss can lose recent blocks.
	SyncNone = "none"
)

// Defaults of the options.
const (
	DefaultReprovideInterval = pconfig.DefaultFilesReprovideInterval
	DefaultFetchTimeout      = pconfig.DefaultFilesFetchTimeout
	// ChunkSize is the import chunk size (Kubo's default, 256 KiB).
	ChunkSize = 256 << 10
	// MaxLinks is the balanced layout's links per node (Kubo's 174).
	MaxLinks = 174
)

// BlockProtocol is the fast block protocol between Plexus nodes (suffix of
// the DHT's protocol prefix: /plexus/files/blocks/1.0.0 by default).
const BlockProtocol = "/files/blocks/1.0.0"

type config struct {
	blocksDir   string
	sync        string
	log         *slog.Logger
	pub         Publisher
	reprovide   time.Duration
	timeout     time.Duration
	prefix      protocol.ID
	bitswapOpts []bitswap.Option
}

// Option configures New.
type Option func(*config) error

// WithBlocksDir stores blocks in a flatfs directory (created when missing).
// Without it blocks are kept in memory.
func WithBlocksDir(dir string) Option {
	return func(c *config) error { c.blocksDir = dir; return nil }
}

// WithSync sets the block store's sync policy: SyncCommit (default),
// SyncBlock or SyncNone.
func WithSync(policy string) Option {
	return func(c *config) error {
		switch policy {
		case SyncCommit, SyncBlock, SyncNone:
			c.sync = policy
			return nil
		}
		return fmt.Errorf("files: sync policy %q is not one of %q, %q, %q", policy, SyncCommit, SyncBlock, SyncNone)
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l != nil {
			c.log = l
		}
		return nil
	}
}

// WithPublisher sets where events go (default: nowhere).
func WithPublisher(p Publisher) Option {
	return func(c *config) error { c.pub = p; return nil }
}

// WithReprovideInterval sets how often pinned roots are announced again
// (default 22h, as Kubo; 0 turns reproviding off).
func WithReprovideInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("files: negative reprovide interval %s", d)
		}
		c.reprovide = d
		return nil
	}
}

// WithFetchTimeout sets how long a fetch waits without receiving any block
// before it fails with ErrNotFound (default 1m).
func WithFetchTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("files: fetch timeout must be positive, got %s", d)
		}
		c.timeout = d
		return nil
	}
}

// WithProtocolPrefix sets the prefix of the fast block protocol (default
// "/plexus", the DHT's prefix).
func WithProtocolPrefix(p protocol.ID) Option {
	return func(c *config) error { c.prefix = p; return nil }
}

// WithBitswapOptions passes options to boxo's bitswap.
func WithBitswapOptions(opts ...bitswap.Option) Option {
	return func(c *config) error { c.bitswapOpts = append(c.bitswapOpts, opts...); return nil }
}

// Service stores, imports, serves and fetches files.
type Service struct {
	cfg    config
	host   host.Host
	meta   datastore.Batching
	router corerouting.ContentRouting
	log    *slog.Logger

	store *store
	bs    blockstore.Blockstore
	dag   ipld.DAGService // local blocks only

	// gcLock: adds, fetches and pins hold one unit while they run, GC
	// holds all of them, so GC never removes a block of an operation in
	// progress.
	gcLock  *semaphore.Weighted
	serving *semaphore.Weighted // block protocol answers in progress

	bitswap *bitswap.Bitswap
	online  ipld.DAGService // fetches missing blocks with bitswap

	gatewayState

	fetchMu sync.Mutex
	fetches map[*fetch]struct{} // running fetches, told which peer sent which bitswap block
	bad     *badPeers

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	started bool
	closed  bool
}

const gcWeight = 1 << 30

// New opens the block store. It starts nothing: Start serves bitswap and
// the block protocol and starts reproviding.
func New(h host.Host, meta datastore.Batching, router corerouting.ContentRouting, opts ...Option) (*Service, error) {
	cfg := config{sync: SyncCommit, log: slog.Default(), reprovide: DefaultReprovideInterval,
		timeout: DefaultFetchTimeout, prefix: "/plexus"}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if meta == nil {
		return nil, errors.New("files: a metadata datastore is required")
	}
	st, err := openStore(cfg.blocksDir, cfg.sync)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:     cfg,
		host:    h,
		meta:    meta,
		router:  router,
		log:     cfg.log.With("component", "files"),
		store:   st,
		bs:      st.bs,
		dag:     merkledag.NewDAGService(blockservice.New(st.bs, nil)),
		gcLock:  semaphore.NewWeighted(gcWeight),
		serving: semaphore.NewWeighted(maxServeStreams),
		fetches: make(map[*fetch]struct{}),
		bad:     newBadPeers(),
	}
	s.online = s.dag
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start serves blocks to peers (bitswap and the block protocol) and starts
// the reprovide loop. It needs a host and a router.
func (s *Service) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return nil
	}
	if s.host == nil {
		return errors.New("files: Start needs a host")
	}
	s.started = true
	s.startExchange()
	if s.router != nil && s.cfg.reprovide > 0 {
		s.wg.Add(1)
		go s.reprovideLoop()
	}
	return nil
}

// Close stops serving, waits for background work and closes the block
// store. It is idempotent.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.stopExchange()
	s.wg.Wait()
	return s.store.close()
}

func (s *Service) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Service) publish(typ string, data any) {
	if s.cfg.pub != nil {
		s.cfg.pub.Publish(typ, data)
	}
}

// hold takes one unit of the GC lock for an operation that writes blocks.
func (s *Service) hold(ctx context.Context) (func(), error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	if err := s.gcLock.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	return func() { s.gcLock.Release(1) }, nil
}

// cidBuilder makes CIDv1 dag-pb sha2-256 CIDs (Kubo --cid-version 1).
var cidBuilder = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}
