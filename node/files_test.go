package node_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	bfiles "github.com/ipfs/boxo/files"

	"github.com/plexus-p2p/plexus/files"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/node"
)

// A file added on one node is announced on the node's DHT and fetched by
// another through it, over loopback.
func TestFilesBetweenNodes(t *testing.T) {
	nodes := testnet.Start(t, 3, testnet.Options{Mutate: func(i int, c *node.Config) {
		c.BlocksPath = t.TempDir()
	}})
	sub := nodes[1].Events().Subscribe(64)
	defer sub.Close()
	data := bytes.Repeat([]byte("plexus files over the DHT "), 100_000) // 2.6 MB
	added, err := nodes[1].Files().Add(t.Context(), bfiles.NewBytesFile(data), files.AddOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the announcement on the DHT.
	deadline := time.After(30 * time.Second)
	for provided := false; !provided; {
		select {
		case ev := <-sub.C():
			if p, ok := ev.Data.(files.ProvidedEvent); ok && ev.Type == files.EventProvided && p.CID == added.CID {
				provided = true
			}
		case <-deadline:
			t.Fatal("no files.provided event within 30s")
		}
	}
	r, err := nodes[2].Files().Cat(t.Context(), added.CID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("cat on another node: %d bytes (%v), want %d", len(got), err, len(data))
	}
	st, err := nodes[2].Files().Stat(t.Context(), added.CID)
	if err != nil || !st.Local || st.Size != uint64(len(data)) {
		t.Fatalf("stat on the fetching node: %+v %v", st, err)
	}
}
