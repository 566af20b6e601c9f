package routing_test

import (
	"context"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/routing"
)

// In a network of two, the other node answers the crawler with an empty
// routing table (it leaves out the asker), which the crawler reports as a
// failure without an error: the node is dialable, not an error (this used
// to panic on the nil error).
func TestExploreTwoNodes(t *testing.T) {
	_, rts := network(t, 2, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	rep, err := rts[1].Explore(ctx, routing.ExploreOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.Total != 2 || rep.Dialable != 2 || rep.Undialable != 0 {
		t.Fatalf("explore of two nodes: %+v", rep)
	}
	for _, n := range rep.Nodes {
		if n.Error != "" || !n.Dialable {
			t.Fatalf("node %s: dialable %v, error %q", n.ID, n.Dialable, n.Error)
		}
	}
}
