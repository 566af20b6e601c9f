package node_test

import (
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

// With explore.interval set, a node crawls the network it is part of and
// exports what it found as plexus_network_* metrics; without it, there are
// no such metrics.
func TestExploreExportsNetworkMetrics(t *testing.T) {
	nodes := testnet.Start(t, 3, testnet.Options{Mutate: func(i int, c *node.Config) {
		if i == 0 {
			c.Explore.Interval = config.Duration(config.MinExploreInterval)
		}
	}})
	for i, n := range nodes {
		testnet.Eventually(t, 20*time.Second, func() bool { return n.Routing().Size() == 2 },
			"node %d routing table has %d peers, want 2", i, n.Routing().Size())
	}
	agent := "plexus/" + node.Version
	var fams map[string]*dto.MetricFamily
	testnet.Eventually(t, 60*time.Second, func() bool {
		fams = gather(t, nodes[0])
		return value(fams, "plexus_network_nodes", "", "") == 3 &&
			value(fams, "plexus_network_nodes_by_agent", "agent", agent) == 3
	}, "no crawl of the 3 nodes was exported: nodes %v, by agent %q %v", testnet.Lazy(func() string {
		return ftoa(value(fams, "plexus_network_nodes", "", ""))
	}), agent, testnet.Lazy(func() string { return ftoa(value(fams, "plexus_network_nodes_by_agent", "agent", agent)) }))
	for _, want := range []struct {
		name, label, value string
		v                  float64
	}{
		{"plexus_network_nodes_dialable", "", "", 3}, // this node counts as dialable
		{"plexus_network_nodes_by_protocol", "protocol", "/plexus/kad/1.0.0", 3},
		{"plexus_network_crawl_complete", "", "", 1},
	} {
		if got := value(fams, want.name, want.label, want.value); got != want.v {
			t.Errorf("%s{%s=%q} = %v, want %v", want.name, want.label, want.value, got, want.v)
		}
	}
	if d := value(fams, "plexus_network_crawl_duration_seconds", "", ""); d <= 0 {
		t.Errorf("crawl duration %v, want > 0", d)
	}
	if value(fams, "plexus_network_crawls_total", "", "") < 1 {
		t.Error("plexus_network_crawls_total < 1")
	}
	if _, ok := gather(t, nodes[1])["plexus_network_nodes"]; ok {
		t.Error("a node without explore.interval exports plexus_network_nodes")
	}
}

func gather(t *testing.T, n *node.Node) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// value is the value of metric name with label=labelValue (any series when
// label is ""), or -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name, label, labelValue string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	for _, m := range f.GetMetric() {
		match := label == ""
		for _, lp := range m.GetLabel() {
			match = match || (lp.GetName() == label && lp.GetValue() == labelValue)
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
