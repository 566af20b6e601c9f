package e2e

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/api/wire"
)

// Records and provider records between two daemons that are not directly
// connected: B and C only know A, and B drops any connection to C first.
func TestRecordsThroughDaemons(t *testing.T) {
	base := t.TempDir()
	a, b, c := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")
	startDaemon(t, a)
	var idA, idB, idC wire.ID
	okJSON(t, a, &idA, "id")
	startDaemon(t, b, "--bootstrap", idA.Addrs[0])
	startDaemon(t, c, "--bootstrap", idA.Addrs[0])
	okJSON(t, b, &idB, "id")
	okJSON(t, c, &idC, "id")
	plexus(t, b, "disconnect", idC.PeerID) // may not be connected: ignore the answer
	var peers []wire.Peer
	okJSON(t, b, &peers, "peers")
	for _, p := range peers {
		if p.PeerID == idC.PeerID {
			t.Fatal("B is still connected to C")
		}
	}

	var rec wire.Record
	okJSON(t, b, &rec, "dht", "put", "greeting", "hello, world")
	key := "/plexus/" + idB.PeerID + "/greeting"
	if rec.Key != key || rec.Seq != 1 {
		t.Fatalf("put: %+v", rec)
	}
	if out := ok(t, c, "dht", "get", key); out != "hello, world" {
		t.Fatalf("get from C: %q", out)
	}
	// A newer version replaces the old one; binary values round-trip.
	put := exec.Command(binary, "--repo", b, "dht", "put", "greeting", "-", "--json")
	put.Env = env()
	put.Stdin = bytes.NewReader([]byte{0, 1, 0xfe})
	if out, err := put.Output(); err != nil || !strings.Contains(string(out), `"seq": 2`) {
		t.Fatalf("second put: %s %v", out, err)
	}
	var got wire.Record
	okJSON(t, a, &got, "dht", "get", key)
	if got.Seq != 2 || !bytes.Equal(got.Value, []byte{0, 1, 0xfe}) || got.Owner != idB.PeerID {
		t.Fatalf("get after update: %+v", got)
	}
	if out := ok(t, b, "dht", "records"); !strings.Contains(out, key) {
		t.Fatalf("own records: %s", out)
	}

	ok(t, c, "dht", "provide", "my-dataset")
	var provs []wire.Provider
	okJSON(t, b, &provs, "dht", "findprovs", "my-dataset", "-n", "1")
	if len(provs) != 1 || provs[0].PeerID != idC.PeerID || len(provs[0].Addrs) == 0 {
		t.Fatalf("findprovs: %+v", provs)
	}

	fails(t, c, "not found", "dht", "get", "/plexus/"+idA.PeerID+"/nothing", "--timeout", "5s")
	fails(t, c, "invalid", "dht", "get", "/plexus/not-a-peer/x")
	fails(t, c, "namespace", "dht", "get", "/nope/"+idA.PeerID+"/x")
	fails(t, c, "name", "dht", "put", "a/b", "x")
	// A TTL under a minute is refused before anything is stored.
	fails(t, b, "--ttl: 1ns is outside [1m0s, 8760h0m0s]", "dht", "put", "brief", "x", "--ttl", "1ns")
	if out := ok(t, b, "dht", "records"); strings.Contains(out, "brief") {
		t.Fatalf("a refused put left a record behind: %s", out)
	}
	// /pk/ keys are looked up (nobody stored A's key here), not refused.
	fails(t, c, "record not found", "dht", "get", "/pk/"+idA.PeerID, "--timeout", "5s")
	// Names with control characters or only spaces are refused alike as
	// provide keys, topics and record names.
	fails(t, c, "invalid provide key", "dht", "provide", "   ")
	fails(t, c, "invalid topic", "pubsub", "pub", "\x1b[2Jtopic", "x")
	fails(t, c, "invalid record name", "dht", "put", "bell\a", "x")
	big := exec.Command(binary, "--repo", c, "dht", "put", "big", "-")
	big.Env = env()
	big.Stdin = strings.NewReader(strings.Repeat("x", 16<<10+1))
	var stderr bytes.Buffer
	big.Stderr = &stderr
	if err := big.Run(); err == nil || !strings.Contains(stderr.String(), "16384") {
		t.Fatalf("oversized put: %v %q", err, stderr.String())
	}
}
