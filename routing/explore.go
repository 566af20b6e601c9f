package routing

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p-kad-dht/crawler"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// ExploreOptions bound a crawl. Zero fields take their defaults.
type ExploreOptions struct {
	// Timeout bounds the whole exploration (ctx bounds it too). Default: 1m.
	Timeout time.Duration
	// Parallelism is the number of peers queried, or identified, at once.
	// Default: 16.
	Parallelism int
	// ConnectTimeout bounds one dial and one DHT request. Default: 5s.
	ConnectTimeout time.Duration
	// Protocols are the DHT protocols the crawler speaks.
	// Default: the Service's protocol.
	Protocols []protocol.ID
	// AgentVersion is reported for this node. Default: the one given with
	// WithAgentVersion.
	AgentVersion string
	// Progress, when set, is told how far the exploration has got: about
	// every 250 ms while the crawl finds nodes, when the crawl ends and when
	// identifying the nodes ends. Calls never overlap. Default: none.
	Progress func(ExploreProgress)
}

// Phases of an exploration, as reported in ExploreProgress.
const (
	PhaseCrawl    = "crawl"    // asking each node reached for its routing table
	PhaseIdentify = "identify" // connecting to the dialable nodes not yet identified
)

// exploreProgressInterval is how often ExploreOptions.Progress is told
// about a crawl in progress.
const exploreProgressInterval = 250 * time.Millisecond

// ExploreProgress is how far an exploration has got.
type ExploreProgress struct {
	Phase string // PhaseCrawl or PhaseIdentify
	// Found counts the nodes seen so far, this node included; Dialable
	// those that answered the crawler, Failed those it could not query.
	Found, Dialable, Failed int
	// Identify is the number of nodes the identify phase connects to (in
	// PhaseIdentify).
	Identify int
	Elapsed  time.Duration
}

// Report is the result of Explore.
type Report struct {
	Self      peer.ID
	StartedAt time.Time
	Duration  time.Duration
	// Complete is false when the timeout or ctx cut the crawl short.
	Complete   bool
	Total      int
	Dialable   int
	Undialable int
	// Nodes lists every node seen, self first, then by peer ID.
	Nodes []Node
}

// Node is one node of a Report.
type Node struct {
	ID           peer.ID
	Self         bool
	Addrs        []ma.Multiaddr
	AgentVersion string
	Protocols    []protocol.ID
	// Dialable reports whether the crawler connected to the node and it
	// answered DHT requests.
	Dialable bool
	// Neighbours are the peers of the node's routing table, as it reported
	// them to the crawler.
	Neighbours []peer.ID
	// Error is why the crawler could not query the node, if it could not.
	Error string
}

// Explore crawls the DHT network reachable from the routing table with
// go-libp2p-kad-dht's crawler: each node reached is asked for its routing
// table, whose peers are crawled in turn. Then each dialable node not yet
// identified is connected to (which runs identify) to learn its agent
// version and protocols. The report includes this node. The crawl opens a
// connection to every node it reaches; the connection manager trims them.
func (s *Service) Explore(ctx context.Context, opts ExploreOptions) (Report, error) {
	if len(opts.Protocols) == 0 {
		opts.Protocols = []protocol.ID{s.proto}
	}
	if opts.AgentVersion == "" {
		opts.AgentVersion = s.cfg.agentVersion
	}
	return Crawl(ctx, s.h, s.d.RoutingTable().ListPeers(), opts)
}

// Crawl is Explore from any host: it crawls from the peers in seeds (whose
// addresses the host's peerstore must know), reported as this node's
// neighbours. Without opts.Protocols it speaks DefaultProtocol.
func Crawl(ctx context.Context, h host.Host, seeds []peer.ID, opts ExploreOptions) (Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 16
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if len(opts.Protocols) == 0 {
		opts.Protocols = []protocol.ID{DefaultProtocol}
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	c, err := crawler.NewDefaultCrawler(h,
		crawler.WithProtocols(opts.Protocols),
		crawler.WithParallelism(opts.Parallelism),
		crawler.WithConnectTimeout(opts.ConnectTimeout),
		crawler.WithMsgTimeout(opts.ConnectTimeout))
	if err != nil {
		return Report{}, fmt.Errorf("explore: new crawler with protocols %v: %w", opts.Protocols, err)
	}

	self := h.ID()
	nodes := map[peer.ID]*Node{}
	node := func(p peer.ID) *Node {
		n, ok := nodes[p]
		if !ok {
			n = &Node{ID: p}
			nodes[p] = n
		}
		return n
	}
	me := node(self)
	me.Self, me.Dialable = true, true
	me.Neighbours = slices.Clone(seeds)

	var start []*peer.AddrInfo
	for _, p := range me.Neighbours {
		ai := peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)}
		start = append(start, &ai)
		node(p).Addrs = ai.Addrs
	}
	var lastReport time.Time
	report := func(phase string, identify int, force bool) {
		if opts.Progress == nil || (!force && time.Since(lastReport) < exploreProgressInterval) {
			return
		}
		lastReport = time.Now()
		pr := ExploreProgress{Phase: phase, Found: len(nodes), Identify: identify, Elapsed: time.Since(began)}
		for _, n := range nodes {
			switch {
			case n.Self:
			case n.Dialable:
				pr.Dialable++
			case n.Error != "":
				pr.Failed++
			}
		}
		opts.Progress(pr)
	}
	// The crawler calls back from its single coordinating goroutine, and
	// c.Run returns after the last call.
	c.Run(ctx, start,
		func(p peer.ID, rtPeers []*peer.AddrInfo) {
			n := node(p)
			n.Dialable, n.Error = true, ""
			n.Neighbours = n.Neighbours[:0]
			for _, ai := range rtPeers {
				n.Neighbours = append(n.Neighbours, ai.ID)
				if m := node(ai.ID); len(m.Addrs) == 0 {
					m.Addrs = ai.Addrs
				}
			}
			report(PhaseCrawl, 0, false)
		},
		func(p peer.ID, err error) {
			if p == self {
				return
			}
			switch n := node(p); {
			case err == nil:
				// The crawler's "failure" without an error: the node
				// answered with an empty routing table.
				n.Dialable, n.Error = true, ""
			case !n.Dialable:
				n.Error = err.Error()
			}
			report(PhaseCrawl, 0, false)
		})
	complete := ctx.Err() == nil
	report(PhaseCrawl, 0, true)

	identified := identifyAll(ctx, h, nodes, opts)
	report(PhaseIdentify, identified, true)

	rep := Report{Self: self, StartedAt: began, Complete: complete}
	for _, n := range nodes {
		if n.Self {
			n.Addrs = h.Addrs()
			n.Protocols = h.Mux().Protocols()
		} else if addrs := h.Peerstore().Addrs(n.ID); n.Dialable && len(addrs) > 0 {
			n.Addrs = addrs
		}
		if !n.Self {
			if protos, err := h.Peerstore().GetProtocols(n.ID); err == nil {
				n.Protocols = protos
			}
		}
		if v, err := h.Peerstore().Get(n.ID, "AgentVersion"); err == nil {
			n.AgentVersion, _ = v.(string)
		}
		if n.Self && opts.AgentVersion != "" {
			n.AgentVersion = opts.AgentVersion
		}
		slices.Sort(n.Protocols)
		slices.Sort(n.Neighbours)
		n.Neighbours = slices.Compact(n.Neighbours)
		if n.Dialable {
			rep.Dialable++
		} else {
			rep.Undialable++
		}
		rep.Nodes = append(rep.Nodes, *n)
	}
	rep.Total = len(rep.Nodes)
	slices.SortFunc(rep.Nodes, func(a, b Node) int {
		if a.Self != b.Self {
			if a.Self {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	rep.Duration = time.Since(began)
	return rep, nil
}

// identifyAll connects, with bounded parallelism, to each dialable node whose
// protocols the peerstore does not know (Connect waits for identify), and
// returns how many such nodes there were.
func identifyAll(ctx context.Context, h host.Host, nodes map[peer.ID]*Node, opts ExploreOptions) int {
	var todo []peer.AddrInfo
	for _, n := range nodes {
		if n.Self || !n.Dialable {
			continue
		}
		if protos, err := h.Peerstore().GetProtocols(n.ID); err == nil && len(protos) > 0 {
			continue
		}
		todo = append(todo, peer.AddrInfo{ID: n.ID, Addrs: n.Addrs})
	}
	sem := make(chan struct{}, opts.Parallelism)
	var wg sync.WaitGroup
	for _, ai := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return len(todo)
		}
		wg.Go(func() {
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
			defer cancel()
			_ = h.Connect(cctx, ai) // best effort: the node is reported either way
		})
	}
	wg.Wait()
	return len(todo)
}
