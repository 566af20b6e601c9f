package node

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexus-p2p/plexus/routing"
)

// Label limits of the network metrics. Agent versions and protocol IDs are
// strings remote nodes choose: the most common ones get a label of their
// own, the rest are counted as "other", so a crawl cannot grow the metrics
// without bound.
const (
	maxAgentLabels    = 20
	maxProtocolLabels = 40
	maxLabelLen       = 64
	otherLabel        = "other"
	unknownAgent      = "unknown" // nodes the crawl could not identify
)

// networkMetrics exports the last crawl of the network (explore.interval)
// as plexus_network_* metrics. It is a prometheus.Collector so that the
// label sets of one crawl replace those of the previous one.
type networkMetrics struct {
	mu         sync.Mutex
	crawled    bool
	nodes      int
	dialable   int
	complete   bool
	duration   time.Duration
	finished   time.Time
	byAgent    []labelCount
	byProtocol []labelCount
	crawls     int

	nodesDesc, dialableDesc, agentDesc, protoDesc, durationDesc, completeDesc, crawlsDesc, lastDesc *prometheus.Desc
}

type labelCount struct {
	label string
	n     int
}

func newNetworkMetrics() *networkMetrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("plexus_network_"+name, help, labels, nil)
	}
	return &networkMetrics{
		nodesDesc:    d("nodes", "Nodes seen by the last crawl of the DHT network, this node included."),
		dialableDesc: d("nodes_dialable", "Nodes of the last crawl that accepted a connection and answered DHT requests."),
		agentDesc:    d("nodes_by_agent", "Nodes of the last crawl by agent version (\"unknown\": not identified; \"other\": beyond the 20 most common).", "agent"),
		protoDesc:    d("nodes_by_protocol", "Identified nodes of the last crawl that support a protocol (\"other\": beyond the 40 most common).", "protocol"),
		durationDesc: d("crawl_duration_seconds", "How long the last crawl took, identify phase included."),
		completeDesc: d("crawl_complete", "1 when the last crawl finished before its timeout, 0 when the timeout cut it short."),
		crawlsDesc:   d("crawls_total", "Crawls finished since the node started."),
		lastDesc:     d("last_crawl_timestamp_seconds", "Unix time at which the last crawl finished."),
	}
}

// record replaces the exported figures with those of r.
func (m *networkMetrics) record(r routing.Report) {
	agents := map[string]int{}
	protos := map[string]int{}
	for _, nd := range r.Nodes {
		agent := unknownAgent
		if nd.AgentVersion != "" {
			agent = labelValue(nd.AgentVersion)
		}
		agents[agent]++
		seen := map[string]bool{} // a node listing a protocol twice counts once
		for _, p := range nd.Protocols {
			l := labelValue(string(p))
			if !seen[l] {
				seen[l] = true
				protos[l]++
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crawled = true
	m.nodes, m.dialable, m.complete = r.Total, r.Dialable, r.Complete
	m.duration, m.finished = r.Duration, r.StartedAt.Add(r.Duration)
	m.byAgent = topLabels(agents, maxAgentLabels)
	m.byProtocol = topLabels(protos, maxProtocolLabels)
	m.crawls++
}

// topLabels keeps the max most common labels (ties by name) and sums the
// rest under otherLabel.
func topLabels(counts map[string]int, max int) []labelCount {
	out := make([]labelCount, 0, len(counts))
	for l, n := range counts {
		out = append(out, labelCount{l, n})
	}
	slices.SortFunc(out, func(a, b labelCount) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.label, b.label))
	})
	if len(out) <= max {
		return out
	}
	other := labelCount{label: otherLabel}
	for _, lc := range out[max:] {
		other.n += lc.n
	}
	return append(out[:max:max], other)
}

// labelValue makes a remote node's string a safe label value: valid UTF-8
// of at most maxLabelLen bytes.
func labelValue(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= maxLabelLen {
		return s
	}
	i := maxLabelLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

func (m *networkMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.nodesDesc, m.dialableDesc, m.agentDesc, m.protoDesc, m.durationDesc, m.completeDesc, m.crawlsDesc, m.lastDesc} {
		ch <- d
	}
}

func (m *networkMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(m.crawlsDesc, prometheus.CounterValue, float64(m.crawls))
	if !m.crawled {
		return // no figures until the first crawl: absent, not zero
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(m.nodesDesc, float64(m.nodes))
	gauge(m.dialableDesc, float64(m.dialable))
	gauge(m.durationDesc, m.duration.Seconds())
	complete := 0.0
	if m.complete {
		complete = 1
	}
	gauge(m.completeDesc, complete)
	gauge(m.lastDesc, float64(m.finished.UnixNano())/1e9)
	for _, lc := range m.byAgent {
		gauge(m.agentDesc, float64(lc.n), lc.label)
	}
	for _, lc := range m.byProtocol {
		gauge(m.protoDesc, float64(lc.n), lc.label)
	}
}

// exploreRetry is how often the explorer checks for a first peer to crawl
// from, and how soon it tries again after a crawl that failed.
const exploreRetry = time.Second

// startExplorer crawls the network every explore.interval (when set) and
// exports the result. The first crawl runs as soon as the routing table has
// a peer. Its goroutine stops with n.ctx.
func (n *Node) startExplorer() {
	every := time.Duration(n.cfg.Explore.Interval)
	if every <= 0 {
		return
	}
	m := newNetworkMetrics()
	n.reg.MustRegister(m)
	log := n.log.With("component", "explore")
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		wait := exploreRetry
		for {
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(wait):
			}
			if n.routing.Size() == 0 {
				wait = exploreRetry
				continue
			}
			ctx, cancel := context.WithTimeout(n.ctx, time.Duration(n.cfg.Explore.Timeout))
			r, err := n.routing.Explore(ctx, routing.ExploreOptions{Timeout: time.Duration(n.cfg.Explore.Timeout)})
			cancel()
			if err != nil {
				if n.ctx.Err() == nil {
					log.Warn("network crawl failed", "err", err)
				}
				wait = every
				continue
			}
			m.record(r)
			log.Info("network crawled", "nodes", r.Total, "dialable", r.Dialable, "complete", r.Complete, "took", r.Duration)
			wait = every
		}
	}()
}
