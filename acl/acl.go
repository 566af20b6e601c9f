// Package acl is the node's peer access list: an allowlist and a denylist
// of peer IDs, enforced by a go-libp2p connection gater
// (core/connmgr.ConnectionGater) on every connection, inbound, outbound and
// relayed (/p2p-circuit), persisted in the node's datastore and editable
// while the node runs. It speaks no protocol of its own.
//
// The rules, in order:
//
//  1. a peer on the denylist never connects, in either direction;
//  2. while the allowlist is empty, every other peer may connect;
//  3. once the allowlist has entries, only they connect, plus the
//     implicit peers the node was configured with (its bootstrap peers and
//     static relays: without them it could not join the network or be
//     reached through a relay).
//
// A peer is on at most one list: allowing a denied peer moves it. A change
// closes at once the connections of every connected peer the lists no
// longer admit (the denied peer; every peer off a newly active allowlist).
//
// Where go-libp2p asks the gater (v0.51): InterceptPeerDial before any
// outbound dial (direct or through a relay) and InterceptSecured once the
// security handshake has authenticated the remote peer, on inbound and
// outbound connections alike, on every transport (the upgrader of TCP and
// WebSocket calls it, QUIC, WebTransport and WebRTC-direct call it
// themselves); relayed connections are upgraded by the same upgrader, so a
// relayed peer is checked there too. InterceptAccept sees
// only addresses (no peer ID yet) and admits everything; InterceptUpgraded
// checks again, for a change made during a handshake.
package acl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Namespace is the datastore prefix of the lists: <Namespace>/allow/<peer>
// and <Namespace>/deny/<peer>, each holding the time the entry was added.
const Namespace = "/plexus/acl"

// The lists.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Errors callers can test for with errors.Is.
var (
	// ErrDenied wraps a refusal of a peer on the denylist.
	ErrDenied = errors.New("peer denied")
	// ErrNotAllowed wraps a refusal of a peer missing from an active allowlist.
	ErrNotAllowed = errors.New("peer not allowed")
	// ErrNotListed is returned by Remove for a peer on neither list.
	ErrNotListed = errors.New("peer is on neither the allowlist nor the denylist")
	// ErrInvalidPeer wraps an empty peer ID or this node's own.
	ErrInvalidPeer = errors.New("invalid peer")
)

// Publisher receives the package's events: "acl.changed" (a Change) and
// "acl.refused" (a Refusal, at most once a minute per peer).
type Publisher interface {
	Publish(typ string, data any)
}

// Options configure a List.
type Options struct {
	// Self is this node's peer ID; it cannot be put on a list.
	Self peer.ID
	// Implicit peers are admitted while the allowlist is active although
	// they are not on it (denying them still works); the value says why,
	// e.g. "bootstrap peer".
	Implicit map[peer.ID]string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Events receives acl.changed and acl.refused (nil: none).
	Events Publisher
}

// Entry is one peer on a list.
type Entry struct {
	Peer  peer.ID
	Added time.Time
}

// Implicit is a peer admitted while the allowlist is active without being on it.
type Implicit struct {
	Peer   peer.ID
	Reason string
}

// Snapshot is the state of the lists.
type Snapshot struct {
	// AllowlistActive is true when the allowlist has entries: only they
	// and the implicit peers may connect.
	AllowlistActive bool
	Allowed         []Entry // sorted by peer ID
	Denied          []Entry // sorted by peer ID
	Implicit        []Implicit
	// Connection attempts refused since start: inbound ones after the
	// handshake named the peer, outbound ones before dialling.
	RefusedInbound, RefusedOutbound uint64
}

// Change is what Allow, Deny or Remove did.
type Change struct {
	Peer     peer.ID
	List     string // Allow, Deny, or "" after Remove
	Previous string // the list the peer was on before, or ""
	// Disconnected are the peers whose connections the change closed.
	Disconnected []peer.ID
}

// Refusal is a connection the lists refused (event acl.refused).
type Refusal struct {
	Peer      peer.ID
	Direction network.Direction
	Addr      string // the remote address, when known
	Reason    string
}

// refusalEventInterval bounds acl.refused events to one per peer per interval.
const refusalEventInterval = time.Minute

// List is the access list and the connection gater that enforces it. It is
// safe for concurrent use.
type List struct {
	ds       datastore.Datastore
	log      *slog.Logger
	pub      Publisher
	self     peer.ID
	implicit map[peer.ID]string

	wmu   sync.Mutex // serialises changes (datastore, then maps, then closing connections)
	mu    sync.RWMutex
	allow map[peer.ID]time.Time
	deny  map[peer.ID]time.Time

	netMu    sync.Mutex
	net      network.Network // set by Attach
	notifiee *network.NotifyBundle
	closing  sync.WaitGroup // connections being closed by the notifiee

	refusedIn, refusedOut atomic.Uint64
	evMu                  sync.Mutex
	lastEvent             map[peer.ID]time.Time
}

// New loads the lists from ds. The List is a connection gater: pass it to
// libp2p.ConnectionGater, then Attach the host's network so that changes
// close the connections of peers no longer admitted.
func New(ctx context.Context, ds datastore.Datastore, o Options) (*List, error) {
	if ds == nil {
		return nil, errors.New("acl: a datastore is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	l := &List{
		ds:        ds,
		log:       o.Logger.With("component", "acl"),
		pub:       o.Events,
		self:      o.Self,
		implicit:  map[peer.ID]string{},
		allow:     map[peer.ID]time.Time{},
		deny:      map[peer.ID]time.Time{},
		lastEvent: map[peer.ID]time.Time{},
	}
	for p, why := range o.Implicit {
		l.implicit[p] = why
	}
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// load reads both lists. A peer found on both (a crash between the two
// writes of a move) stays on the list it joined last.
func (l *List) load(ctx context.Context) error {
	res, err := l.ds.Query(ctx, query.Query{Prefix: Namespace})
	if err != nil {
		return fmt.Errorf("acl: read %s: %w", Namespace, err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("acl: read %s: %w", Namespace, r.Error)
		}
		k := datastore.NewKey(r.Key)
		list := k.Parent().BaseNamespace()
		p, err := peer.Decode(k.BaseNamespace())
		if err != nil || (list != Allow && list != Deny) {
			l.log.Warn("ignoring a malformed access list entry", "key", r.Key)
			continue
		}
		var added time.Time
		if err := added.UnmarshalText(r.Value); err != nil {
			l.log.Warn("access list entry without a valid time", "key", r.Key, "err", err)
		}
		l.lists(list)[p] = added
	}
	for p, a := range l.allow {
		if d, ok := l.deny[p]; ok {
			stale := Deny
			if d.After(a) {
				stale = Allow
			}
			delete(l.lists(stale), p)
			if err := l.ds.Delete(ctx, key(stale, p)); err != nil {
				return fmt.Errorf("acl: repair %s: %w", p, err)
			}
		}
	}
	return nil
}

// lists returns the map of a list; l.mu is held or the List is new.
func (l *List) lists(name string) map[peer.ID]time.Time {
	if name == Allow {
		return l.allow
	}
	return l.deny
}

func key(list string, p peer.ID) datastore.Key {
	return datastore.NewKey(Namespace).ChildString(list).ChildString(p.String())
}

// Attach lets changes close connections on n, closes the connections of
// peers the lists do not admit, and watches new connections for a change
// made during their handshake. Detach (or Close) undoes it.
func (l *List) Attach(n network.Network) {
	l.netMu.Lock()
	if l.net != nil {
		l.netMu.Unlock()
		return
	}
	l.net = n
	l.notifiee = &network.NotifyBundle{ConnectedF: l.connected}
	l.netMu.Unlock()
	n.Notify(l.notifiee)
	l.sweep()
}

// Close stops watching the network. It is idempotent.
func (l *List) Close() error {
	l.netMu.Lock()
	n, nb := l.net, l.notifiee
	l.net, l.notifiee = nil, nil
	l.netMu.Unlock()
	if n != nil {
		n.StopNotify(nb)
	}
	l.closing.Wait()
	return nil
}

// connected closes a connection that a change made during its handshake
// no longer admits (the gater admitted it just before the change).
func (l *List) connected(_ network.Network, c network.Conn) {
	if l.Check(c.RemotePeer()) == nil {
		return
	}
	l.closing.Add(1)
	go func() { // never block the swarm's notification
		defer l.closing.Done()
		c.Close()
	}()
}

// Allow puts p on the allowlist (taking it off the denylist). When this
// makes the allowlist active, every connected peer not on it (nor implicit)
// is disconnected.
func (l *List) Allow(ctx context.Context, p peer.ID) (Change, error) {
	return l.set(ctx, p, Allow)
}

// Deny puts p on the denylist (taking it off the allowlist) and closes its
// connections.
func (l *List) Deny(ctx context.Context, p peer.ID) (Change, error) {
	return l.set(ctx, p, Deny)
}

// Remove takes p off whichever list it is on; ErrNotListed when none.
// Taking the last peer off the allowlist makes it inactive (everyone not
// denied may connect again).
func (l *List) Remove(ctx context.Context, p peer.ID) (Change, error) {
	return l.set(ctx, p, "")
}

func (l *List) set(ctx context.Context, p peer.ID, list string) (Change, error) {
	if p == "" {
		return Change{}, fmt.Errorf("%w: empty peer ID", ErrInvalidPeer)
	}
	if p == l.self {
		return Change{}, fmt.Errorf("%w: %s is this node itself", ErrInvalidPeer, p)
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	prev := l.listOf(p)
	ch := Change{Peer: p, List: list, Previous: prev}
	if list == "" && prev == "" {
		return ch, fmt.Errorf("%w: %s", ErrNotListed, p)
	}
	if prev == list {
		return ch, nil
	}
	now := time.Now().UTC()
	if list != "" {
		v, _ := now.MarshalText()
		if err := l.ds.Put(ctx, key(list, p), v); err != nil {
			return ch, fmt.Errorf("acl: save %s on the %slist: %w", p, list, err)
		}
	}
	if prev != "" {
		if err := l.ds.Delete(ctx, key(prev, p)); err != nil {
			return ch, fmt.Errorf("acl: take %s off the %slist: %w", p, prev, err)
		}
	}
	if err := l.ds.Sync(ctx, datastore.NewKey(Namespace)); err != nil {
		return ch, fmt.Errorf("acl: sync: %w", err)
	}
	l.mu.Lock()
	if prev != "" {
		delete(l.lists(prev), p)
	}
	if list != "" {
		l.lists(list)[p] = now
	}
	l.mu.Unlock()
	ch.Disconnected = l.sweep()
	l.log.Info("access list changed", "peer", p, "list", list, "previous", prev, "disconnected", len(ch.Disconnected))
	if l.pub != nil {
		l.pub.Publish("acl.changed", ch)
	}
	return ch, nil
}

// listOf names the list p is on, or "".
func (l *List) listOf(p peer.ID) string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if _, ok := l.deny[p]; ok {
		return Deny
	}
	if _, ok := l.allow[p]; ok {
		return Allow
	}
	return ""
}

// sweep closes the connections of every connected peer the lists do not
// admit and returns those peers.
func (l *List) sweep() []peer.ID {
	l.netMu.Lock()
	n := l.net
	l.netMu.Unlock()
	if n == nil {
		return nil
	}
	var closed []peer.ID
	for _, p := range n.Peers() {
		if l.Check(p) == nil {
			continue
		}
		if err := n.ClosePeer(p); err != nil {
			l.log.Warn("closing the connections of a refused peer", "peer", p, "err", err)
		}
		closed = append(closed, p)
	}
	slices.Sort(closed)
	return closed
}

// Check returns nil when p may connect, or why not: an error wrapping
// ErrDenied or ErrNotAllowed.
func (l *List) Check(p peer.ID) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if _, ok := l.deny[p]; ok {
		return fmt.Errorf("%w: %s is on this node's denylist", ErrDenied, p)
	}
	if len(l.allow) == 0 {
		return nil
	}
	if _, ok := l.allow[p]; ok {
		return nil
	}
	if _, ok := l.implicit[p]; ok {
		return nil
	}
	return fmt.Errorf("%w: %s is not on this node's allowlist, which admits only its %d peer(s), the bootstrap peers and static relays",
		ErrNotAllowed, p, len(l.allow))
}

// Snapshot returns the lists and the refusal counters.
func (l *List) Snapshot() Snapshot {
	l.mu.RLock()
	s := Snapshot{
		AllowlistActive: len(l.allow) > 0,
		Allowed:         entries(l.allow),
		Denied:          entries(l.deny),
		Implicit:        []Implicit{},
	}
	l.mu.RUnlock()
	for p, why := range l.implicit {
		s.Implicit = append(s.Implicit, Implicit{Peer: p, Reason: why})
	}
	slices.SortFunc(s.Implicit, func(a, b Implicit) int { return strings.Compare(a.Peer.String(), b.Peer.String()) })
	s.RefusedInbound, s.RefusedOutbound = l.refusedIn.Load(), l.refusedOut.Load()
	return s
}

func entries(m map[peer.ID]time.Time) []Entry {
	out := make([]Entry, 0, len(m))
	for p, t := range m {
		out = append(out, Entry{Peer: p, Added: t})
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Peer.String(), b.Peer.String()) })
	return out
}
