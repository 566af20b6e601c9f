package discovery

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/crawler"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// DHTProtocol is the Kademlia protocol of a DHT built with
// dht.ProtocolPrefix("/plexus").
const DHTProtocol protocol.ID = "/plexus/kad/1.0.0"

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
	// Default: [DHTProtocol].
	Protocols []protocol.ID
	// AgentVersion is reported for this node, whose own agent version
	// identify does not record (the node passes its libp2p.UserAgent).
	// Default: the peerstore's entry for this node, if any.
	AgentVersion string
}

// Report is the result of Explore.
type Report struct {
	Self       peer.ID   `json:"self"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	// Complete is false when the timeout or ctx cut the crawl short.
	Complete   bool `json:"complete"`
	Total      int  `json:"total"`
	Dialable   int  `json:"dialable"`
	Undialable int  `json:"undialable"`
	// Nodes lists every node seen, self first, then by peer ID.
	Nodes []Node `json:"nodes"`
}

// Node is one node of a Report.
type Node struct {
	ID           peer.ID        `json:"peer_id"`
	Self         bool           `json:"self,omitempty"`
	Addrs        []ma.Multiaddr `json:"addrs"`
	AgentVersion string         `json:"agent_version,omitempty"`
	Protocols    []protocol.ID  `json:"protocols,omitempty"`
	// Dialable reports whether the crawler connected to the node and it
	// answered DHT requests.
	Dialable bool `json:"dialable"`
	// Neighbours are the peers of the node's routing table, as it reported
	// them to the crawler.
	Neighbours []peer.ID `json:"neighbours,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Explore crawls the DHT network reachable from d's routing table with
// go-libp2p-kad-dht's crawler: each node reached is asked for its routing
// table, whose peers are crawled in turn. Then each dialable node not yet
// identified is connected to (which runs identify) to learn its agent
// version and protocols. The report includes this node. The crawl opens a
// connection to every node it reaches; the connection manager trims them.
func Explore(ctx context.Context, h host.Host, d *dht.IpfsDHT, opts ExploreOptions) (Report, error) {
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
		opts.Protocols = []protocol.ID{DHTProtocol}
	}
	start := time.Now()
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
	me.Neighbours = d.RoutingTable().ListPeers()

	var seeds []*peer.AddrInfo
	for _, p := range me.Neighbours {
		ai := peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)}
		seeds = append(seeds, &ai)
		node(p).Addrs = ai.Addrs
	}
	// The crawler calls back from its single coordinating goroutine.
	c.Run(ctx, seeds,
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
		},
		func(p peer.ID, err error) {
			if p == self {
				return
			}
			if n := node(p); !n.Dialable {
				n.Error = err.Error()
			}
		})
	complete := ctx.Err() == nil

	identifyAll(ctx, h, nodes, opts)

	rep := Report{Self: self, StartedAt: start, Complete: complete}
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
	rep.DurationMS = time.Since(start).Milliseconds()
	return rep, nil
}

// identifyAll connects, with bounded parallelism, to each dialable node whose
// protocols the peerstore does not know; Connect waits for identify.
func identifyAll(ctx context.Context, h host.Host, nodes map[peer.ID]*Node, opts ExploreOptions) {
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
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
			defer cancel()
			_ = h.Connect(cctx, ai) // best effort: the node is reported either way
		})
	}
	wg.Wait()
}

// WriteDOT writes r as a Graphviz digraph: one vertex per node (this node
// filled, undialable nodes dashed), one edge from each node to each of its
// routing-table neighbours.
func WriteDOT(w io.Writer, r Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph plexus {")
	fmt.Fprintln(bw, "  node [shape=box, fontname=\"monospace\", fontsize=10];")
	for _, n := range r.Nodes {
		label := shortID(n.ID)
		if n.AgentVersion != "" {
			label += "\n" + n.AgentVersion
		}
		attrs := []string{"label=" + dotQuote(label)}
		if n.Self {
			attrs = append(attrs, "style=filled", "fillcolor=lightblue")
		}
		if !n.Dialable {
			attrs = append(attrs, "style=dashed", "color=gray")
		}
		fmt.Fprintf(bw, "  %s [%s];\n", dotQuote(n.ID.String()), strings.Join(attrs, ", "))
	}
	for _, n := range r.Nodes {
		for _, nb := range n.Neighbours {
			fmt.Fprintf(bw, "  %s -> %s;\n", dotQuote(n.ID.String()), dotQuote(nb.String()))
		}
	}
	fmt.Fprintln(bw, "}")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write dot: %w", err)
	}
	return nil
}

// shortID returns the last 8 characters of a peer ID, enough to tell
// the nodes of one network apart.
func shortID(p peer.ID) string {
	s := p.String()
	if len(s) > 8 {
		return "…" + s[len(s)-8:]
	}
	return s
}

// dotQuote returns s as a DOT double-quoted string.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}
