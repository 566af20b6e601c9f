package node

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	coreconnmgr "github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/messaging"
)

// usefulTag is the decaying connection-manager tag of peers that recently
// did something useful with this node (a request/response exchange); each
// exchange adds usefulBump, bounded by usefulMax, and the value halves every
// minute.
const (
	usefulTag  = "plexus-useful"
	usefulBump = 10
	usefulMax  = 100
	// minTrimInterval spaces trims started by new connections.
	minTrimInterval = 250 * time.Millisecond
)

// connGuard is the node's connection manager and the outer connection gater
// (issue 20 row 3: with 2,000 inbound connections and attackers re-dialling
// after each trim, new peers were locked out).
//
// go-libp2p's BasicConnMgr keeps the tags, protections and decaying tags;
// connGuard does the trimming, differently:
//   - It trims as soon as the connections exceed high_water (at most every
//     250 ms), not on a 10 s tick, so the headroom between high_water and
//     the resource manager's limit stays free for new peers.
//   - A peer within grace_period is spared only while it is new: an inbound
//     peer that has been connected longer than idle_grace with no tag (no
//     useful traffic: not in the DHT routing table, not a pub/sub mesh or
//     delivering peer, no request exchanged) may be trimmed. An attacker
//     that re-dials stays "new" forever and would otherwise never be trimmed.
//   - Peers trimmed are refused inbound connections for trim_cooldown (at
//     the gater, InterceptSecured), so re-dialling gains them nothing.
//   - Protected peers are never trimmed; the others go lowest tag value
//     first, as with BasicConnMgr, so peers with useful traffic go last.
type connGuard struct {
	*connmgr.BasicConnMgr
	low, high                  int
	grace, idleGrace, cooldown time.Duration
	next                       coreconnmgr.ConnectionGater // nil: allow
	useful                     coreconnmgr.DecayingTag
	inner                      network.Notifiee
	count                      atomic.Int64
	kick                       chan struct{}
	trimmed, refused           prometheus.Counter
	cancel                     context.CancelFunc
	done                       chan struct{}

	mu       sync.Mutex
	net      network.Network
	cooling  map[peer.ID]time.Time
	lastTrim time.Time
}

var (
	_ coreconnmgr.ConnManager     = (*connGuard)(nil)
	_ coreconnmgr.ConnectionGater = (*connGuard)(nil)
	_ coreconnmgr.Decayer         = (*connGuard)(nil)
)

func newConnGuard(c config.ConnManager, next coreconnmgr.ConnectionGater, reg prometheus.Registerer) (*connGuard, error) {
	// Water marks 0: BasicConnMgr tracks tags and protections but never
	// trims; connGuard does.
	basic, err := connmgr.NewConnManager(0, 0, connmgr.WithGracePeriod(time.Duration(c.GracePeriod)))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	g := &connGuard{
		BasicConnMgr: basic,
		low:          c.LowWater,
		high:         c.HighWater,
		grace:        time.Duration(c.GracePeriod),
		idleGrace:    time.Duration(c.IdleGrace),
		cooldown:     time.Duration(c.TrimCooldown),
		next:         next,
		inner:        basic.Notifee(),
		kick:         make(chan struct{}, 1),
		cooling:      make(map[peer.ID]time.Time),
		done:         make(chan struct{}),
		trimmed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "plexus_connections_trimmed_total",
			Help: "Connections the connection manager closed above conn_manager.high_water.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "plexus_connections_refused_cooldown_total",
			Help: "Inbound connections refused because their peer was trimmed less than conn_manager.trim_cooldown ago.",
		}),
	}
	g.useful, err = basic.RegisterDecayingTag(usefulTag, time.Minute, coreconnmgr.DecayLinear(0.5), coreconnmgr.BumpSumBounded(0, usefulMax))
	if err != nil {
		basic.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	if reg != nil {
		reg.MustRegister(g.trimmed, g.refused)
	}
	var ctx context.Context
	ctx, g.cancel = context.WithCancel(context.Background())
	go g.loop(ctx)
	return g, nil
}

// Bump records useful traffic with p: a completed request/response.
func (g *connGuard) Bump(p peer.ID) { _ = g.useful.Bump(p, usefulBump) }

func (g *connGuard) loop(ctx context.Context) {
	defer close(g.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-g.kick:
		}
		if g.count.Load() <= int64(g.high) {
			continue
		}
		g.mu.Lock()
		wait := minTrimInterval - time.Since(g.lastTrim)
		g.mu.Unlock()
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		g.TrimNow()
	}
}

// Notifee tracks connections for BasicConnMgr and starts a trim when a new
// one takes the count above high water.
func (g *connGuard) Notifee() network.Notifiee {
	return &network.NotifyBundle{
		ConnectedF: func(n network.Network, c network.Conn) {
			g.inner.Connected(n, c)
			g.mu.Lock()
			g.net = n
			g.mu.Unlock()
			if g.count.Add(1) > int64(g.high) {
				select {
				case g.kick <- struct{}{}:
				default:
				}
			}
		},
		DisconnectedF: func(n network.Network, c network.Conn) {
			g.inner.Disconnected(n, c)
			g.count.Add(-1)
		},
		ListenF:      g.inner.Listen,
		ListenCloseF: g.inner.ListenClose,
	}
}

// TrimOpenConns trims now (BasicConnMgr's method would do nothing: its
// water marks are 0).
func (g *connGuard) TrimOpenConns(context.Context) { g.TrimNow() }

// candidate is one peer's connections, as seen by a trim.
type candidate struct {
	p        peer.ID
	conns    []network.Conn
	first    time.Time // earliest open connection
	inbound  bool      // every connection is inbound
	value    int       // tag value
	nstreams int
}

// TrimNow closes connections down to low water when above high water.
func (g *connGuard) TrimNow() {
	g.mu.Lock()
	n := g.net
	g.lastTrim = time.Now()
	g.mu.Unlock()
	if n == nil {
		return
	}
	conns := n.Conns()
	if len(conns) <= g.high {
		return
	}
	now := time.Now()
	byPeer := make(map[peer.ID]*candidate)
	for _, c := range conns {
		p := c.RemotePeer()
		cd := byPeer[p]
		if cd == nil {
			cd = &candidate{p: p, first: c.Stat().Opened, inbound: true}
			byPeer[p] = cd
		}
		cd.conns = append(cd.conns, c)
		if o := c.Stat().Opened; o.Before(cd.first) {
			cd.first = o
		}
		if c.Stat().Direction != network.DirInbound {
			cd.inbound = false
		}
		cd.nstreams += len(c.GetStreams())
	}
	var list, young []*candidate
	for p, cd := range byPeer {
		if g.IsProtected(p, "") {
			continue
		}
		if ti := g.GetTagInfo(p); ti != nil {
			cd.value = ti.Value
		}
		age := now.Sub(cd.first)
		switch {
		case age >= g.grace || (cd.value == 0 && cd.inbound && age >= g.idleGrace):
			list = append(list, cd)
		case cd.value == 0 && cd.inbound && cd.nstreams == 0:
			young = append(young, cd)
		}
	}
	order := func(a, b *candidate) int {
		return cmp.Or(cmp.Compare(a.value, b.value), cmp.Compare(a.nstreams, b.nstreams), a.first.Compare(b.first))
	}
	slices.SortFunc(list, order)
	slices.SortFunc(young, order)
	var closed []peer.ID
	trim := func(list []*candidate, excess int) int {
		for _, cd := range list {
			if excess <= 0 {
				break
			}
			for _, c := range cd.conns {
				_ = c.CloseWithError(network.ConnGarbageCollected)
			}
			excess -= len(cd.conns)
			g.trimmed.Add(float64(len(cd.conns)))
			closed = append(closed, cd.p)
		}
		return excess
	}
	left := g.low + trim(list, len(conns)-g.low)
	// Still above high water: the rest are new. Those that are idle (no
	// stream open, no useful traffic) go too, down to low water, rather
	// than hold the slots above high water for idle_grace: attackers
	// re-dialling filled every slot between high water and the resource
	// manager's limit within idle_grace of each trim, and new peers were
	// refused until then (issue 20 row 3). Trimmed, they cool down like the
	// others, so a flood's peers are all refused after a trim or two.
	if left > g.high {
		trim(young, left-g.low)
	}
	if g.cooldown <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for p, until := range g.cooling {
		if now.After(until) {
			delete(g.cooling, p)
		}
	}
	for _, p := range closed {
		g.cooling[p] = now.Add(g.cooldown)
	}
}

// IsCooling reports whether p was trimmed less than trim_cooldown ago.
func (g *connGuard) IsCooling(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.cooling[p]
	return ok && time.Now().Before(until)
}

// Cooling returns how many peers are refused for now.
func (g *connGuard) Cooling() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, until := range g.cooling {
		if time.Now().Before(until) {
			n++
		}
	}
	return n
}

// CheckLimit reports a resource manager that admits fewer connections than
// high water (the connection manager would never trim).
func (g *connGuard) CheckLimit(l coreconnmgr.GetConnLimiter) error {
	if limit := l.GetConnLimit(); limit < g.high {
		return fmt.Errorf("resource manager connection limit %d is below conn_manager.high_water %d", limit, g.high)
	}
	return nil
}

// Close stops the trimming loop and the BasicConnMgr.
func (g *connGuard) Close() error {
	g.cancel()
	<-g.done
	return g.BasicConnMgr.Close()
}

// The gater: a peer cooling down is refused once its identity is known;
// everything else is up to the next gater (the access list).

func (g *connGuard) InterceptPeerDial(p peer.ID) bool {
	return g.next == nil || g.next.InterceptPeerDial(p)
}

func (g *connGuard) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	return g.next == nil || g.next.InterceptAddrDial(p, a)
}

func (g *connGuard) InterceptAccept(cm network.ConnMultiaddrs) bool {
	return g.next == nil || g.next.InterceptAccept(cm)
}

func (g *connGuard) InterceptSecured(dir network.Direction, p peer.ID, cm network.ConnMultiaddrs) bool {
	if dir == network.DirInbound && g.IsCooling(p) {
		g.refused.Inc()
		return false
	}
	return g.next == nil || g.next.InterceptSecured(dir, p, cm)
}

func (g *connGuard) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	if g.next == nil {
		return true, 0
	}
	return g.next.InterceptUpgraded(c)
}

// useful tells the connection manager that p just exchanged something
// useful with this node, so that it keeps p's connection when trimming
// (connGuard).
func (n *Node) useful(p peer.ID) {
	if g, ok := n.host.ConnManager().(*connGuard); ok {
		g.Bump(p)
	}
}

// usefulPublisher passes messaging's events to the bus, marking the peers
// whose requests were handled as useful.
type usefulPublisher struct{ n *Node }

func (u usefulPublisher) Publish(typ string, data any) {
	if e, ok := data.(messaging.RequestHandled); ok {
		u.n.useful(e.Peer)
	}
	u.n.bus.Publish(typ, data)
}
