package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/api/wire"
)

// Four daemons form a network through node 1 and are driven only through
// the CLI: id, peers, ping, disconnect, connect, shutdown.
func TestFourDaemonsThroughCLI(t *testing.T) {
	base := t.TempDir()
	repos := make([]string, 4)
	for i := range repos {
		repos[i] = filepath.Join(base, "node"+string(rune('1'+i)))
	}
	d1 := startDaemon(t, repos[0])
	if !strings.Contains(d1.out.String(), "running as a bootstrap node") {
		t.Fatalf("node 1 did not say it is a bootstrap node:\n%s", d1.out)
	}
	var id1 wire.ID
	okJSON(t, repos[0], &id1, "id")
	if !strings.HasPrefix(id1.Addrs[0], "/ip4/127.0.0.1/tcp/") || !strings.HasSuffix(id1.Addrs[0], "/p2p/"+id1.PeerID) {
		t.Fatalf("node 1 first address %q", id1.Addrs[0])
	}
	daemons := []*daemon{d1}
	ids := []wire.ID{id1}
	for _, repo := range repos[1:] {
		d := startDaemon(t, repo, "--bootstrap", id1.Addrs[0])
		if !strings.Contains(d.out.String(), "Joining the network through 1 bootstrap peer") {
			t.Fatalf("daemon did not say it joins:\n%s", d.out)
		}
		var id wire.ID
		okJSON(t, repo, &id, "id")
		daemons, ids = append(daemons, d), append(ids, id)
	}
	// Every node ends up connected to the three others (the DHT introduced
	// nodes 2-4 to each other; they only knew node 1).
	for _, repo := range repos {
		waitConnected(t, repo, 3)
	}
	var peers []wire.Peer
	okJSON(t, repos[1], &peers, "peers")
	for _, p := range peers {
		if p.Addr == "" || p.Direction == "" || p.Transport == "" {
			t.Fatalf("incomplete peer entry %+v", p)
		}
	}
	human := ok(t, repos[1], "peers")
	if !strings.Contains(human, "PEER") || !strings.Contains(human, id1.PeerID) {
		t.Fatalf("peers table:\n%s", human)
	}
	// Ping every other node, by peer ID.
	for i, repo := range repos {
		for j, id := range ids {
			if i == j {
				continue
			}
			var res wire.PingResult
			okJSON(t, repo, &res, "ping", id.PeerID, "-n", "2")
			if res.PeerID != id.PeerID || len(res.RTTsMS) != 2 {
				t.Fatalf("node %d ping node %d: %+v", i+1, j+1, res)
			}
		}
	}
	// Disconnect, then reconnect by multiaddr, then ping by multiaddr.
	ok(t, repos[3], "disconnect", ids[2].PeerID)
	out := ok(t, repos[3], "connect", ids[2].Addrs[0])
	if !strings.Contains(out, "connected to "+ids[2].PeerID) {
		t.Fatalf("connect output: %s", out)
	}
	if out := ok(t, repos[3], "ping", ids[0].Addrs[0], "-n", "1"); !strings.Contains(out, "ping 1: "+ids[0].PeerID) {
		t.Fatalf("ping output: %s", out)
	}
	for i, d := range daemons {
		ok(t, repos[i], "shutdown")
		if err := d.wait(t); err != nil {
			t.Fatalf("daemon %d exit: %v\n%s", i+1, err, d.out)
		}
		if _, err := os.Stat(filepath.Join(repos[i], "api")); !os.IsNotExist(err) {
			t.Fatalf("daemon %d left its api file behind", i+1)
		}
	}
}

// Restarting a daemon keeps its identity; SIGTERM stops it with exit 0.
func TestRestartAndSignals(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r")
	d := startDaemon(t, repo)
	var before wire.ID
	okJSON(t, repo, &before, "id")
	if err := d.stop(t); err != nil {
		t.Fatalf("SIGTERM exit: %v\n%s", err, d.out)
	}
	if !strings.Contains(d.out.String(), "Daemon stopped") {
		t.Fatalf("no clean stop message:\n%s", d.out)
	}
	startDaemon(t, repo, "--listen", before.ListenAddrs[0])
	var after wire.ID
	okJSON(t, repo, &after, "id")
	if after.PeerID != before.PeerID {
		t.Fatalf("peer ID changed across restart: %s -> %s", before.PeerID, after.PeerID)
	}
	if after.ListenAddrs[0] != before.ListenAddrs[0] {
		t.Fatalf("listen address %s -> %s", before.ListenAddrs[0], after.ListenAddrs[0])
	}
	// Key and token are private.
	for _, f := range []string{"identity.key", "api.token"} {
		st, err := os.Stat(filepath.Join(repo, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, err %v", f, st.Mode().Perm(), err)
		}
	}
}

// Every bad input gets a one-line error and a non-zero exit, and nothing
// already stored is lost.
func TestBadInputThroughCLI(t *testing.T) {
	base := t.TempDir()
	repo := filepath.Join(base, "a")
	startDaemon(t, repo)
	var id wire.ID
	okJSON(t, repo, &id, "id")
	other := "12D3KooWGRUVh1GfmknJFWSXJYy8Y5yGwv8oJjRiSPmRQRRUbBcu"

	fails(t, repo, "invalid multiaddr", "connect", "/ip4/1.2.3")
	fails(t, repo, "no /p2p/", "connect", "/ip4/127.0.0.1/tcp/4001")
	fails(t, repo, "invalid peer ID", "ping", "nonsense")
	fails(t, repo, "invalid peer ID", "disconnect", "nonsense")
	fails(t, repo, "not connected", "disconnect", other)
	fails(t, repo, "not found in the DHT", "ping", other)
	fails(t, repo, "outside 1..100", "ping", other, "-n", "500")
	fails(t, repo, "connect", "connect", "/ip4/127.0.0.1/tcp/1/p2p/"+other, "--timeout", "3s")
	fails(t, repo, "is this node itself", "connect", id.Addrs[0])
	failsEnv(t, repo, []string{"PLEXUS_TOKEN=wrong"}, "wrong API token", "id")
	fails(t, filepath.Join(base, "nobody"), "no daemon is running", "id")

	// A second daemon on the same repo is refused by the lock.
	fails(t, repo, "another plexus daemon is using it", "daemon")
	// init refuses to overwrite the identity.
	fails(t, repo, "already has an identity", "init")
	// Config edits are validated and never corrupt the file.
	fails(t, repo, "dht.mode", "config", "set", "dht.mode", "sideways")
	fails(t, repo, "unknown setting", "config", "set", "no.such", "1")
	fails(t, repo, "not an integer", "config", "set", "conn_manager.low_water", "many")
	// The daemon started with PLEXUS_PROFILE=local, which is applied at start
	// and not written into the file: dht.mode keeps its default.
	if v := strings.TrimSpace(ok(t, repo, "config", "get", "dht.mode")); v != `"auto"` {
		t.Fatalf("dht.mode after failed sets = %s", v)
	}
	ok(t, repo, "config", "set", "conn_manager.high_water", "500")
	if v := strings.TrimSpace(ok(t, repo, "config", "get", "conn_manager.high_water")); v != "500" {
		t.Fatalf("high_water = %s", v)
	}
	var after wire.ID
	okJSON(t, repo, &after, "id")
	if after.PeerID != id.PeerID {
		t.Fatal("identity changed")
	}

	// A corrupt config file: a clear error naming the file, the identity kept.
	bad := filepath.Join(base, "corrupt")
	ok(t, bad, "init")
	key, _ := os.ReadFile(filepath.Join(bad, "identity.key"))
	os.WriteFile(filepath.Join(bad, "config.toml"), []byte("[dht\nmode = 3"), 0o644)
	fails(t, bad, "config.toml", "daemon")
	if k2, _ := os.ReadFile(filepath.Join(bad, "identity.key")); string(k2) != string(key) {
		t.Fatal("identity lost after a corrupt config")
	}

	// A port already in use.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	fails(t, filepath.Join(base, "busy"), "already in use", "daemon", "--listen", "/ip4/127.0.0.1/tcp/"+strconv.Itoa(port))
	fails(t, filepath.Join(base, "busyapi"), "address already in use", "daemon", "--api", l.Addr().String())
	fails(t, filepath.Join(base, "prof"), "unknown profile", "daemon", "--profile", "bogus")
}
