package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/api/wire"
)

// The explore report draws as a DOT digraph: one vertex per node, one edge
// per routing-table neighbour, quotes escaped.
func TestWriteDOT(t *testing.T) {
	rep := wire.ExploreReport{Nodes: []wire.ExploreNode{
		{PeerID: "12D3KooWself0001", Self: true, Dialable: true, AgentVersion: `plexus/"1"`, Neighbours: []string{"12D3KooWpeer0002", "12D3KooWpeer0003"}},
		{PeerID: "12D3KooWpeer0002", Dialable: true, Neighbours: []string{"12D3KooWself0001"}},
		{PeerID: "12D3KooWpeer0003"},
	}}
	var buf bytes.Buffer
	if err := writeDOT(&buf, rep); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "digraph plexus {") || !strings.HasSuffix(out, "}\n") {
		t.Fatalf("not a digraph: %q", out)
	}
	for _, n := range rep.Nodes {
		if !strings.Contains(out, fmt.Sprintf("%q [label=", n.PeerID)) {
			t.Errorf("no vertex for %s:\n%s", n.PeerID, out)
		}
	}
	if got := strings.Count(out, " -> "); got != 3 {
		t.Errorf("%d edges, want 3:\n%s", got, out)
	}
	if !strings.Contains(out, `plexus/\"1\"`) || !strings.Contains(out, "fillcolor=lightblue") || !strings.Contains(out, "style=dashed") {
		t.Errorf("label escaping or styles missing:\n%s", out)
	}
}
