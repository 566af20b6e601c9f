// Package records stores signed application key/value records and provider
// records on the Plexus Kademlia DHT.
//
// It speaks no protocol of its own: it uses a go-libp2p-kad-dht instance run
// under the Plexus protocol prefix, which speaks /plexus/kad/1.0.0
// (dht.ProtocolPrefix("/plexus")), configured with dht.Validator(Validator(...)).
//
// A record lives under /plexus/<peerID>/<name>. It is signed by the key of that
// peer, carries a sequence number and an expiry (EOL), and is checked by
// RecordValidator on every node that stores it (kad-dht validates a PUT_VALUE
// before storing it) and on the node that asks for it (kad-dht validates every
// GET_VALUE answer, and its own stored copy, before using them). So only the
// owner can write its keys, and the newest valid record (highest seq, then
// latest EOL) wins. The wire format is in wire.go.
//
// A Service publishes the node's own records, reads anyone's, announces and
// finds providers of arbitrary keys, and with Start runs a republisher that
// keeps own records and provider announcements alive. kad-dht forgets a value
// record MaxRecordAge (48h by default) after it received it, and a provider
// record after 48h; the republisher refreshes both well before that.
package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"

	"github.com/plexus-p2p/plexus/config"
)

// Routing is what a Service needs from the DHT; *dht.IpfsDHT implements it.
// A node passes its routing.Combined: plexus records go to the Plexus DHT,
// while /pk/ and /ipns/ reads and provider records also reach the Amino DHT
// when dht.amino is on.
type Routing interface {
	routing.ValueStore
	routing.ContentRouting
}

// Publisher receives the events this package emits; the node passes its event bus.
type Publisher interface {
	Publish(typ string, data any)
}

// Event types published by a Service.
const (
	// EventRecordPut: the node published one of its records (RecordEvent).
	EventRecordPut = "record.put"
	// EventRecordGot: a record was fetched from the DHT (RecordEvent).
	EventRecordGot = "record.got"
	// EventProviderAdded: the node announced itself as a provider (ProviderEvent).
	EventProviderAdded = "provider.added"
)

// RecordEvent is the data of record.put and record.got events.
type RecordEvent struct {
	// Key is the record's key, /plexus/<Owner>/<Name> (or, for a record.got
	// of another namespace, its printable key such as /pk/<Owner>).
	Key string
	// Namespace is "plexus", or the other namespace Get fetched from; Name,
	// Seq and EOL are set for Plexus records only.
	Namespace string
	Owner     peer.ID
	Name      string
	Seq       uint64
	EOL       time.Time
	// Size is the length of the value in bytes.
	Size int
}

// ProviderEvent is the data of provider.added events.
type ProviderEvent struct {
	// Key is the key given to Provide; CID is its CID on the DHT.
	Key string
	CID cid.Cid
}

// Datastore keys used by a Service (the node's datastore is shared; kad-dht
// keeps its value records under /<namespace>/<base32 key> and providers under
// /providers/, which do not collide with these).
const (
	ownPrefix     = "/plexus/records/own"
	providePrefix = "/plexus/records/provides"
)

// The defaults and bounds shared with the node's configuration are written
// once, in package config; these names refer to them.
const (
	// DefaultTTL is the default lifetime (EOL - now) of a published record.
	DefaultTTL = config.DefaultRecordTTL
	// MinTTL is the shortest lifetime Put accepts (1m; see
	// config.MinRecordTTL for why).
	MinTTL = config.MinRecordTTL
	// MaxTTL is the longest lifetime Put accepts.
	MaxTTL = config.MaxRecordTTL
	// MaxMaxValueSize is the highest limit WithMaxValueSize accepts (1 MiB).
	MaxMaxValueSize = config.MaxRecordMaxValueSize
	// DefaultRepublishInterval is how often own records are republished.
	DefaultRepublishInterval = config.DefaultRepublishInterval
	// DefaultReprovideInterval is how often provided keys are announced again.
	DefaultReprovideInterval = config.DefaultReprovideInterval
	// DefaultRetryInterval is how soon a republish or reprovide pass that had
	// failures is retried.
	DefaultRetryInterval = time.Minute
	// DefaultSeqLookupTimeout bounds the DHT lookup of the network's latest seq
	// before the first Put of a name this node has no state for.
	DefaultSeqLookupTimeout = 10 * time.Second
	// DefaultFindProvidersCount is the number of providers FindProviders looks
	// for when n <= 0.
	DefaultFindProvidersCount = 20
)

type options struct {
	dhtValidator      record.Validator
	logger            *slog.Logger
	pub               Publisher
	ttl               time.Duration
	republishInterval time.Duration
	reprovideInterval time.Duration
	retryInterval     time.Duration
	seqLookupTimeout  time.Duration
	maxValueSize      int
}

// Option configures a Service.
type Option func(*options) error

// WithDHTValidator tells the Service the validator of the DHT it stores
// in (for a node, routing.Service.Validator()): Get then also answers keys
// of the DHT's other namespaces ("pk" and "ipns" on a Plexus node) with
// their raw values, as every node validates and serves them. Default: none,
// Get answers only /plexus/ keys.
func WithDHTValidator(v record.Validator) Option {
	return func(c *options) error {
		c.dhtValidator = v
		return nil
	}
}

// WithLogger sets the logger. Default: slog.Default() with component=records.
func WithLogger(l *slog.Logger) Option {
	return func(c *options) error {
		if l != nil {
			c.logger = l
		}
		return nil
	}
}

// WithPublisher sets where events go. Default: nowhere.
func WithPublisher(p Publisher) Option {
	return func(c *options) error {
		c.pub = p
		return nil
	}
}

// WithTTL sets the lifetime of records published without an explicit TTL:
// MinTTL (1m) to MaxTTL (8760h). Default: DefaultTTL (24h).
func WithTTL(d time.Duration) Option {
	return func(c *options) error {
		if err := config.CheckRecordTTL(d); err != nil {
			return fmt.Errorf("records: TTL: %w: %w", ErrInvalidTTL, err)
		}
		c.ttl = d
		return nil
	}
}

// WithRepublishInterval sets how often the republisher re-signs own records with
// a fresh EOL and stores them again: at least config.MinRecordInterval (1m).
// It is shortened automatically to half the shortest record TTL.
// Default: DefaultRepublishInterval (1h).
func WithRepublishInterval(d time.Duration) Option {
	return func(c *options) error {
		if err := config.CheckRecordInterval(d); err != nil {
			return fmt.Errorf("records: republish interval: %w", err)
		}
		c.republishInterval = d
		return nil
	}
}

// WithReprovideInterval sets how often provided keys are announced again: at
// least config.MinRecordInterval (1m), and it should stay well under the 48h
// kad-dht keeps provider records. Default: DefaultReprovideInterval (11h).
func WithReprovideInterval(d time.Duration) Option {
	return func(c *options) error {
		if err := config.CheckRecordInterval(d); err != nil {
			return fmt.Errorf("records: reprovide interval: %w", err)
		}
		c.reprovideInterval = d
		return nil
	}
}

// WithRetryInterval sets how soon a republish or reprovide pass with failures
// (for example while the routing table is still empty) is retried.
// Default: DefaultRetryInterval (1m).
func WithRetryInterval(d time.Duration) Option {
	return func(c *options) error {
		if d <= 0 {
			return fmt.Errorf("records: retry interval %s: must be positive", d)
		}
		c.retryInterval = d
		return nil
	}
}

// WithSeqLookupTimeout bounds the DHT lookup made before the first Put of a
// name the node has no local state for, which finds the latest seq already on
// the network (so a node whose datastore was lost does not publish a record
// that loses to its own older one). 0 disables the lookup.
// Default: DefaultSeqLookupTimeout (10s).
func WithSeqLookupTimeout(d time.Duration) Option {
	return func(c *options) error {
		if d < 0 {
			return fmt.Errorf("records: seq lookup timeout %s: must not be negative", d)
		}
		c.seqLookupTimeout = d
		return nil
	}
}

// WithMaxValueSize sets the value size limit of Put and of the validation Get
// applies. It must match the limit of the RecordValidator the DHT nodes use.
// Allowed: 1 to MaxMaxValueSize (1 MiB). Default: DefaultMaxValueSize (16 KiB).
func WithMaxValueSize(n int) Option {
	return func(c *options) error {
		if err := config.CheckRecordMaxValueSize(n); err != nil {
			return fmt.Errorf("records: max value size: %w", err)
		}
		c.maxValueSize = n
		return nil
	}
}

// Service publishes and fetches Plexus records and provider records.
type Service struct {
	d         Routing
	key       crypto.PrivKey
	self      peer.ID
	ds        datastore.Batching
	cfg       options
	log       *slog.Logger
	validator RecordValidator

	// mu serialises read-modify-write of the own-record and provide state.
	mu sync.Mutex

	lifeMu  sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New returns a Service that publishes with key (the node's identity) through d
// and keeps its state (own records with their seq, provided keys) in ds. It
// starts no goroutines; Start runs the republisher.
func New(d Routing, key crypto.PrivKey, ds datastore.Batching, opts ...Option) (*Service, error) {
	if d == nil || key == nil || ds == nil {
		return nil, errors.New("records: New needs a routing, a key and a datastore")
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("records: peer ID of key: %w", err)
	}
	cfg := options{
		ttl:               DefaultTTL,
		republishInterval: DefaultRepublishInterval,
		reprovideInterval: DefaultReprovideInterval,
		retryInterval:     DefaultRetryInterval,
		seqLookupTimeout:  DefaultSeqLookupTimeout,
		maxValueSize:      DefaultMaxValueSize,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default().With(slog.String("component", "records"))
	}
	return &Service{
		d:         d,
		key:       key,
		self:      self,
		ds:        ds,
		cfg:       cfg,
		log:       cfg.logger,
		validator: RecordValidator{MaxValueSize: cfg.maxValueSize},
	}, nil
}

// Self returns the peer ID that owns the records this Service publishes.
func (s *Service) Self() peer.ID { return s.self }

// KeyFor returns the DHT key of this node's record called name.
func (s *Service) KeyFor(name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return Key(s.self, name), nil
}

// ownState is what the datastore keeps per own record.
type ownState struct {
	Record []byte        `json:"record"` // wire encoding
	TTL    time.Duration `json:"ttl"`
}

func ownKey(name string) datastore.Key {
	return datastore.NewKey(ownPrefix).ChildString(name)
}

// Put publishes value under /plexus/<self>/<name> with seq one above the last
// seq this node used for the name (kept in the datastore, so it survives
// restarts) and EOL now+ttl (ttl 0: the configured default, 24h; otherwise
// MinTTL to MaxTTL). Before the first Put of a name it has no state for, it
// looks the key up on the DHT and continues from the seq found there.
//
// Input the DHT would refuse (name, size, TTL) is refused before anything is
// stored, and the signed record must pass the validator the DHT nodes apply
// before it is saved. The record is saved as an own record before it is
// sent, so if sending fails (no peers yet, for example) Put returns the
// error and the republisher (Start) retries later.
func (s *Service) Put(ctx context.Context, name string, value []byte, ttl time.Duration) (Record, error) {
	if err := ValidateName(name); err != nil {
		return Record{}, fmt.Errorf("records: put: %w", err)
	}
	key := Key(s.self, name)
	if len(value) > s.cfg.maxValueSize {
		return Record{}, fmt.Errorf("records: put %q: %w: %d bytes, at most %d", key, ErrValueTooLarge, len(value), s.cfg.maxValueSize)
	}
	if ttl == 0 {
		ttl = s.cfg.ttl
	}
	if err := config.CheckRecordTTL(ttl); err != nil {
		return Record{}, fmt.Errorf("records: put %q: %w: %w", key, ErrInvalidTTL, err)
	}

	// Learn the network's seq outside the lock: it is a DHT lookup.
	var networkSeq uint64
	if _, found, err := s.loadOwn(ctx, name); err != nil {
		return Record{}, fmt.Errorf("records: put %q: %w", key, err)
	} else if !found {
		networkSeq = s.lookupSeq(ctx, key)
	}

	s.mu.Lock()
	st, found, err := s.loadOwn(ctx, name)
	if err != nil {
		s.mu.Unlock()
		return Record{}, fmt.Errorf("records: put %q: %w", key, err)
	}
	seq := networkSeq
	if found {
		prev, err := Unmarshal(st.Record)
		if err != nil {
			s.mu.Unlock()
			return Record{}, fmt.Errorf("records: put %q: stored own record: %w", key, err)
		}
		seq = max(seq, prev.Seq)
	}
	rec, data, err := s.signAndSave(ctx, name, value, seq+1, ttl)
	s.mu.Unlock()
	if err != nil {
		return Record{}, fmt.Errorf("records: put %q: %w", key, err)
	}

	if err := s.d.PutValue(ctx, key, data); err != nil {
		return Record{}, fmt.Errorf("records: put %q (seq %d, saved for republishing): %w", key, rec.Seq, err)
	}
	s.log.Debug("record put", "key", key, "seq", rec.Seq, "eol", rec.EOL, "size", len(value))
	s.publish(EventRecordPut, recordEvent(rec))
	return rec, nil
}

// signAndSave signs a record and, once it passes the validator every DHT
// node applies, stores it as the own record of name, synced. The caller
// holds s.mu.
func (s *Service) signAndSave(ctx context.Context, name string, value []byte, seq uint64, ttl time.Duration) (Record, []byte, error) {
	rec, err := NewRecord(s.key, name, value, seq, time.Now().Add(ttl))
	if err != nil {
		return Record{}, nil, err
	}
	data, err := rec.Marshal()
	if err != nil {
		return Record{}, nil, err
	}
	if err := s.validator.Validate(rec.Key, data); err != nil {
		return Record{}, nil, err
	}
	st, err := json.Marshal(ownState{Record: data, TTL: ttl})
	if err != nil {
		return Record{}, nil, err
	}
	k := ownKey(name)
	if err := s.ds.Put(ctx, k, st); err != nil {
		return Record{}, nil, fmt.Errorf("save own record %s: %w", k, err)
	}
	if err := s.ds.Sync(ctx, k); err != nil {
		return Record{}, nil, fmt.Errorf("sync own record %s: %w", k, err)
	}
	return rec, data, nil
}

// lookupSeq returns the seq of the best valid record under key on the DHT, or
// 0 when there is none or the lookup fails.
func (s *Service) lookupSeq(ctx context.Context, key string) uint64 {
	if s.cfg.seqLookupTimeout <= 0 {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.seqLookupTimeout)
	defer cancel()
	data, err := s.d.GetValue(ctx, key)
	if data == nil {
		if err != nil && !errors.Is(err, routing.ErrNotFound) {
			s.log.Debug("seq lookup failed", "key", key, "err", err)
		}
		return 0
	}
	rec, err := s.validator.Decode(key, data)
	if err != nil {
		return 0
	}
	return rec.Seq
}

func (s *Service) loadOwn(ctx context.Context, name string) (ownState, bool, error) {
	b, err := s.ds.Get(ctx, ownKey(name))
	if errors.Is(err, datastore.ErrNotFound) {
		return ownState{}, false, nil
	}
	if err != nil {
		return ownState{}, false, fmt.Errorf("read own record %s: %w", ownKey(name), err)
	}
	var st ownState
	if err := json.Unmarshal(b, &st); err != nil {
		return ownState{}, false, fmt.Errorf("decode own record %s: %w", ownKey(name), err)
	}
	return st, true, nil
}

// Get fetches the best valid record under key from the DHT, bounded by ctx.
// It returns ErrNotFound when no valid record exists.
//
// A Plexus key, /plexus/<peerID>/<name>, answers the decoded record. With
// WithDHTValidator, a key of another namespace the DHT validates answers a
// Record with only Key (in its printable form), Owner and the raw Value:
// /pk/<peer ID> a public key (libp2p crypto.MarshalPublicKey bytes),
// /ipns/<name> an IPNS record (protobuf); see OtherKey.
func (s *Service) Get(ctx context.Context, key string) (Record, error) {
	if ns, _, err := record.SplitKey(key); err == nil && ns != Namespace {
		return s.getOther(ctx, ns, key)
	}
	if _, _, err := ParseKey(key); err != nil {
		return Record{}, fmt.Errorf("records: get: %w", err)
	}
	data, err := s.d.GetValue(ctx, key)
	if errors.Is(err, routing.ErrNotFound) {
		return Record{}, fmt.Errorf("records: get %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("records: get %q: %w", key, err)
	}
	// kad-dht has validated the value already; a Routing that is not kad-dht
	// may not have, and Decode returns the record.
	rec, err := s.validator.Decode(key, data)
	if err != nil {
		return Record{}, fmt.Errorf("records: get: %w", err)
	}
	s.publish(EventRecordGot, recordEvent(rec))
	return rec, nil
}

// getOther is Get for a key outside the "plexus" namespace.
func (s *Service) getOther(ctx context.Context, ns, key string) (Record, error) {
	nv, _ := s.cfg.dhtValidator.(record.NamespacedValidator)
	v := nv[ns]
	if ns == Namespace || v == nil {
		return Record{}, fmt.Errorf("records: get: %w %q in key %q: want %s", ErrUnknownNamespace, ns, key, keyForms(nv))
	}
	dk, owner, printable, err := OtherKey(key)
	if err != nil {
		return Record{}, fmt.Errorf("records: get: %w", err)
	}
	data, err := s.d.GetValue(ctx, dk)
	if errors.Is(err, routing.ErrNotFound) {
		return Record{}, fmt.Errorf("records: get %q: %w", printable, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("records: get %q: %w", printable, err)
	}
	// kad-dht has validated the value already; a Routing that is not
	// kad-dht may not have.
	if err := v.Validate(dk, data); err != nil {
		return Record{}, fmt.Errorf("records: get %q: %w: %w", printable, ErrInvalidRecord, err)
	}
	rec := Record{Key: printable, Owner: owner, Value: data}
	s.publish(EventRecordGot, recordEvent(rec))
	return rec, nil
}

// OwnRecords lists the records this node has published and republishes, sorted
// by name.
func (s *Service) OwnRecords(ctx context.Context) ([]Record, error) {
	res, err := s.ds.Query(ctx, query.Query{Prefix: ownPrefix, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("records: list own records: %w", err)
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, fmt.Errorf("records: list own records: %w", err)
	}
	out := make([]Record, 0, len(entries))
	for _, e := range entries {
		var st ownState
		if err := json.Unmarshal(e.Value, &st); err != nil {
			return nil, fmt.Errorf("records: decode own record %s: %w", e.Key, err)
		}
		rec, err := Unmarshal(st.Record)
		if err != nil {
			return nil, fmt.Errorf("records: decode own record %s: %w", e.Key, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// Forget stops republishing this node's record called name. Copies on the
// network stay valid until their EOL (and kad-dht drops them MaxRecordAge
// after it last received them).
func (s *Service) Forget(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("records: forget: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ds.Delete(ctx, ownKey(name)); err != nil {
		return fmt.Errorf("records: forget %q: %w", name, err)
	}
	return nil
}

func (s *Service) publish(typ string, data any) {
	if s.cfg.pub != nil {
		s.cfg.pub.Publish(typ, data)
	}
}

func recordEvent(r Record) RecordEvent {
	return RecordEvent{Key: r.Key, Namespace: r.Namespace(), Owner: r.Owner, Name: r.Name, Seq: r.Seq, EOL: r.EOL, Size: len(r.Value)}
}
