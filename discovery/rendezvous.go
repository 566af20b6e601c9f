package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"

	pname "github.com/plexus-p2p/plexus/internal/name"
	"github.com/plexus-p2p/plexus/internal/topic"
)

// MaxTopicLen is the longest rendezvous topic, in bytes.
const MaxTopicLen = topic.MaxLen

// Errors returned by Rendezvous; test with errors.Is.
var (
	ErrInvalidTopic  = errors.New("invalid rendezvous topic")
	ErrAlreadyJoined = errors.New("rendezvous topic already joined")
	ErrNotJoined     = errors.New("rendezvous topic not joined")
	ErrClosed        = errors.New("discovery service closed")
)

// ValidateTopic reports why name cannot be a rendezvous topic (or
// namespace), or nil if it can: it must be 1 to MaxTopicLen bytes of
// printable UTF-8 (spaces allowed, but not at either end; control and format
// characters not). The rule is package internal/name's, shared with pub/sub
// topics, record names and provide keys.
func ValidateTopic(name string) error {
	if err := pname.Check(name, MaxTopicLen); err != nil {
		return fmt.Errorf("topic %.32q: %w: %w", name, ErrInvalidTopic, err)
	}
	return nil
}

// Rendezvous lets peers that share a topic find each other through the DHT.
// A peer advertises itself as a provider of the CID derived from the topic
// (go-libp2p's RoutingDiscovery: CIDv1 raw of the topic's SHA-256) and looks
// up the other providers of it.
//
// Rendezvous implements go-libp2p core/discovery.Discovery (Advertise,
// FindPeers), so it can be passed to go-libp2p-pubsub's WithDiscovery.
type Rendezvous struct {
	h    host.Host
	rd   *drouting.RoutingDiscovery
	book *peerBook
	cfg  *config
	log  *slog.Logger

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	topics map[string]*joinedTopic
	closed bool
}

var _ discovery.Discovery = (*Rendezvous)(nil)

type joinedTopic struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func newRendezvous(h host.Host, cr routing.ContentRouting, book *peerBook, cfg *config, log *slog.Logger) *Rendezvous {
	ctx, cancel := context.WithCancel(context.Background())
	return &Rendezvous{
		h: h, rd: drouting.NewRoutingDiscovery(cr), book: book, cfg: cfg, log: log,
		ctx: ctx, cancel: cancel,
		topics: make(map[string]*joinedTopic),
	}
}

// Advertise announces this node under namespace ns in the DHT and returns
// how long the announcement lasts (at most 3h; pass discovery.TTL to
// shorten it). It implements discovery.Advertiser.
func (r *Rendezvous) Advertise(ctx context.Context, ns string, opts ...discovery.Option) (time.Duration, error) {
	if err := ValidateTopic(ns); err != nil {
		return 0, fmt.Errorf("rendezvous advertise: %w", err)
	}
	ttl, err := r.rd.Advertise(ctx, ns, opts...)
	if err != nil {
		return 0, fmt.Errorf("rendezvous advertise %q: %w", ns, err)
	}
	return ttl, nil
}

// FindPeers looks up the peers advertised under namespace ns, this node
// excluded. The channel is closed when the lookup ends or ctx is done.
// Pass discovery.Limit to change the default limit of 100 peers. It
// implements discovery.Discoverer.
func (r *Rendezvous) FindPeers(ctx context.Context, ns string, opts ...discovery.Option) (<-chan peer.AddrInfo, error) {
	if err := ValidateTopic(ns); err != nil {
		return nil, fmt.Errorf("rendezvous find peers: %w", err)
	}
	opts = append([]discovery.Option{discovery.Limit(r.cfg.rendezvousPeerLimit)}, opts...)
	found, err := r.rd.FindPeers(ctx, ns, opts...)
	if err != nil {
		return nil, fmt.Errorf("rendezvous find peers %q: %w", ns, err)
	}
	out := make(chan peer.AddrInfo)
	go func() { // ends when found is closed, which ctx guarantees
		defer close(out)
		for ai := range found {
			if ai.ID == r.h.ID() {
				continue
			}
			r.book.record(ai.ID, SourceRendezvous, ai.Addrs)
			select {
			case out <- ai:
			case <-ctx.Done():
				for range found { // let the lookup finish
				}
				return
			}
		}
	}()
	return out, nil
}

// Peers looks up the peers that joined topic (this node excluded), whether
// or not this node joined it. If ctx ends before the lookup, the peers
// found so far are returned, or ctx's error if there are none.
func (r *Rendezvous) Peers(ctx context.Context, topic string) ([]peer.AddrInfo, error) {
	ch, err := r.FindPeers(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []peer.AddrInfo
	seen := make(map[peer.ID]struct{})
	for ai := range ch {
		if _, dup := seen[ai.ID]; dup {
			continue
		}
		seen[ai.ID] = struct{}{}
		out = append(out, ai)
	}
	if err := ctx.Err(); err != nil && len(out) == 0 {
		return nil, fmt.Errorf("rendezvous peers %q: %w", topic, err)
	}
	return out, nil
}

// Join advertises this node under topic and, until Leave or Close, keeps
// the advertisement fresh and looks up the topic's peers every rendezvous
// interval, connecting to up to the connect limit (default 8) of them. It
// returns once the first advertisement is stored, or the error that kept
// it from being stored (the topic is then not joined).
func (r *Rendezvous) Join(ctx context.Context, topic string) error {
	if err := ValidateTopic(topic); err != nil {
		return fmt.Errorf("rendezvous join: %w", err)
	}
	jctx, cancel := context.WithCancel(r.ctx)
	jt := &joinedTopic{cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		cancel()
		return fmt.Errorf("rendezvous join %q: %w", topic, ErrClosed)
	case r.topics[topic] != nil:
		r.mu.Unlock()
		cancel()
		return fmt.Errorf("rendezvous join %q: %w", topic, ErrAlreadyJoined)
	}
	r.topics[topic] = jt
	r.mu.Unlock()

	ttl, err := r.Advertise(ctx, topic)
	r.mu.Lock()
	if err == nil && (r.closed || r.topics[topic] != jt) {
		err = fmt.Errorf("rendezvous join %q: left or closed while joining", topic)
	}
	if err != nil {
		if r.topics[topic] == jt {
			delete(r.topics, topic)
		}
		r.mu.Unlock()
		cancel()
		close(jt.done)
		return fmt.Errorf("rendezvous join: %w", err)
	}
	r.wg.Add(1)
	r.mu.Unlock()

	go func() {
		defer r.wg.Done()
		defer close(jt.done)
		r.keepJoined(jctx, topic, ttl)
	}()
	r.log.Info("joined rendezvous topic", "topic", topic, "ttl", ttl)
	r.cfg.publish(EventRendezvousJoined, RendezvousTopic{Topic: topic})
	return nil
}

// Leave stops advertising topic and looking it up. Provider records already
// stored in the DHT expire on their own.
func (r *Rendezvous) Leave(topic string) error {
	r.mu.Lock()
	jt := r.topics[topic]
	delete(r.topics, topic)
	r.mu.Unlock()
	if jt == nil {
		return fmt.Errorf("rendezvous leave %q: %w", topic, ErrNotJoined)
	}
	jt.cancel()
	<-jt.done
	r.log.Info("left rendezvous topic", "topic", topic)
	r.cfg.publish(EventRendezvousLeft, RendezvousTopic{Topic: topic})
	return nil
}

// Topics returns the joined topics, sorted.
func (r *Rendezvous) Topics() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.topics))
	for t := range r.topics {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// keepJoined re-advertises topic before ttl runs out (retrying failures
// with backoff) and connects to the topic's peers every rendezvous interval.
func (r *Rendezvous) keepJoined(ctx context.Context, topic string, ttl time.Duration) {
	readvertise := time.NewTimer(ttl * 7 / 8)
	defer readvertise.Stop()
	lookup := time.NewTimer(0)
	defer lookup.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-lookup.C:
			r.connectTopicPeers(ctx, topic)
			lookup.Reset(r.cfg.rendezvousInterval)
		case <-readvertise.C:
			next, err := r.Advertise(ctx, topic)
			if err != nil {
				failures++
				next = backoffDelay(failures, r.cfg.backoffBase, r.cfg.backoffMax, rand.Int64N)
				r.log.Warn("rendezvous re-advertise failed", "topic", topic, "retry_in", next, "err", err)
			} else {
				failures = 0
				next = next * 7 / 8
			}
			readvertise.Reset(next)
		}
	}
}

// connectTopicPeers looks topic up and connects to its peers until the node
// is connected to the connect limit of them.
func (r *Rendezvous) connectTopicPeers(ctx context.Context, topic string) {
	lctx, cancel := context.WithTimeout(ctx, r.cfg.rendezvousInterval)
	defer cancel()
	peers, err := r.Peers(lctx, topic)
	if err != nil {
		r.log.Debug("rendezvous lookup", "topic", topic, "err", err)
		return
	}
	var todo []peer.AddrInfo
	connected := 0
	for _, ai := range peers {
		if r.h.Network().Connectedness(ai.ID) == network.Connected {
			connected++
		} else {
			todo = append(todo, ai)
		}
	}
	rand.Shuffle(len(todo), func(i, j int) { todo[i], todo[j] = todo[j], todo[i] })
	for _, ai := range todo {
		if connected >= r.cfg.rendezvousConnectLimit || lctx.Err() != nil {
			break
		}
		dctx, dcancel := context.WithTimeout(lctx, r.cfg.dialTimeout)
		err := r.h.Connect(dctx, ai)
		dcancel()
		if err != nil {
			r.log.Debug("rendezvous peer did not answer", "topic", topic, "peer", ai.ID, "err", err)
			continue
		}
		connected++
	}
	r.log.Debug("rendezvous lookup", "topic", topic, "found", len(peers), "connected", connected)
}

// close leaves every topic and waits for their goroutines.
func (r *Rendezvous) close() {
	r.mu.Lock()
	r.closed = true
	r.topics = make(map[string]*joinedTopic)
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}
