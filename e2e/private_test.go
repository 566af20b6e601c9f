package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/api/wire"
)

// A private network through the CLI: init --private makes a key, a second
// repo imports it and the two daemons connect; a third node without the key
// cannot connect in either direction, and both sides say why.
func TestPrivateNetworkThroughCLI(t *testing.T) {
	base := t.TempDir()
	r1, r2, r3 := filepath.Join(base, "n1"), filepath.Join(base, "n2"), filepath.Join(base, "n3")

	var created map[string]string
	okJSON(t, r1, &created, "init", "--private")
	fp := created["swarm_key_fingerprint"]
	if len(fp) != 16 {
		t.Fatalf("init --private: %v", created)
	}
	if fi, err := os.Stat(filepath.Join(r1, "swarm.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("swarm.key: %v, %v", fi, err)
	}
	// show prints the fingerprint, never the key, unless --reveal.
	key, _ := os.ReadFile(filepath.Join(r1, "swarm.key"))
	hexKey := strings.Split(string(key), "\n")[2]
	if out := ok(t, r1, "swarm-key", "show"); !strings.Contains(out, "fingerprint: "+fp) || strings.Contains(out, hexKey) {
		t.Fatalf("swarm-key show:\n%s", out)
	}
	revealed := ok(t, r1, "swarm-key", "show", "--reveal")
	if revealed != string(key) {
		t.Fatalf("--reveal printed %q, want the key file", revealed)
	}
	keyFile := filepath.Join(base, "team.key")
	os.WriteFile(keyFile, []byte(revealed), 0o600)

	// A malformed key is refused, and nothing is written.
	bad := filepath.Join(base, "bad.key")
	os.WriteFile(bad, []byte("/key/swarm/psk/1.0.0/\n/base16/\n"+hexKey[:60]+"\n"), 0o600)
	fails(t, r2, "the key is 60 hex digits, want 64", "swarm-key", "import", bad)
	if _, err := os.Stat(filepath.Join(r2, "swarm.key")); err == nil {
		t.Fatal("a refused import wrote swarm.key")
	}
	if out := ok(t, r2, "swarm-key", "import", keyFile); !strings.Contains(out, "fingerprint "+fp) {
		t.Fatalf("import: %s", out)
	}

	d1 := startDaemon(t, r1)
	if out := d1.out.String(); !strings.Contains(out, "Private network: swarm key "+fp) || !strings.Contains(out, "Turned off: quic-v1") {
		t.Fatalf("the banner does not say the node is private:\n%s", out)
	}
	var id1 wire.ID
	okJSON(t, r1, &id1, "id")
	if p := id1.PrivateNetwork; !p.Enabled || p.Fingerprint != fp || !slices.Contains(p.DisabledTransports, "quic-v1") {
		t.Fatalf("id: private network %+v", p)
	}
	for _, a := range id1.Addrs {
		if strings.Contains(a, "quic") || strings.Contains(a, "webrtc") {
			t.Fatalf("private node advertises %s", a)
		}
	}
	startDaemon(t, r2, "--bootstrap", id1.Addrs[0])
	waitConnected(t, r2, 1)
	var id2 wire.ID
	okJSON(t, r2, &id2, "id")

	// Without the key: no connection, either way.
	ok(t, r3, "init")
	startDaemon(t, r3)
	var id3 wire.ID
	okJSON(t, r3, &id3, "id")
	fails(t, r3, "if the peer is in a private network (it has a swarm.key), this node needs the same key", "connect", id1.Addrs[0])
	fails(t, r1, "does not share this node's swarm key (fingerprint "+fp+")", "connect", id3.Addrs[0])
	var peers []wire.Peer
	okJSON(t, r3, &peers, "peers")
	if len(peers) != 0 {
		t.Fatalf("the node without the key has peers: %+v", peers)
	}

	// The doctor reports the private network.
	var st wire.NATStatus
	okJSON(t, r1, &st, "nat", "status")
	if !st.Private.Enabled || st.Private.Fingerprint != fp {
		t.Fatalf("nat status: %+v", st.Private)
	}
	if out := ok(t, r1, "nat", "status"); !strings.Contains(out, "Private:       yes, swarm key "+fp) {
		t.Fatalf("nat status:\n%s", out)
	}
}

// The access lists through the CLI: deny disconnects at once and survives a
// daemon restart; rm lifts it; bad input fails with a clear message.
func TestPeerACLThroughCLI(t *testing.T) {
	base := t.TempDir()
	r1, r2 := filepath.Join(base, "n1"), filepath.Join(base, "n2")
	d1 := startDaemon(t, r1)
	var id1, id2 wire.ID
	okJSON(t, r1, &id1, "id")
	startDaemon(t, r2, "--bootstrap", id1.Addrs[0])
	okJSON(t, r2, &id2, "id")
	waitConnected(t, r1, 1)

	out := ok(t, r1, "peers", "deny", id2.PeerID)
	if !strings.Contains(out, "denied "+id2.PeerID) || !strings.Contains(out, "disconnected 1 peer(s) no longer admitted: "+id2.PeerID) {
		t.Fatalf("deny:\n%s", out)
	}
	var peers []wire.Peer
	okJSON(t, r1, &peers, "peers")
	if len(peers) != 0 {
		t.Fatalf("still connected after deny: %+v", peers)
	}
	fails(t, r1, "is on this node's denylist", "connect", id2.Addrs[0])
	fails(t, r1, "invalid peer ID", "peers", "deny", "not-a-peer")
	fails(t, r1, "is this node itself", "peers", "allow", id1.PeerID)

	// The list survives a restart.
	d1.stop(t)
	startDaemon(t, r1)
	var acl wire.ACL
	okJSON(t, r1, &acl, "peers", "acl")
	if len(acl.Denied) != 1 || acl.Denied[0].PeerID != id2.PeerID || acl.AllowlistActive {
		t.Fatalf("after restart: %+v", acl)
	}
	if out := ok(t, r1, "peers", "acl"); !strings.Contains(out, "deny  "+id2.PeerID) {
		t.Fatalf("peers acl:\n%s", out)
	}

	out = ok(t, r1, "peers", "rm", id2.PeerID)
	if !strings.Contains(out, "removed "+id2.PeerID+" from the denylist") {
		t.Fatalf("rm: %s", out)
	}
	fails(t, r1, "on neither the allowlist nor the denylist", "peers", "rm", id2.PeerID)
	okJSON(t, r1, &id1, "id") // the restarted node listens on new ports
	ok(t, r2, "connect", id1.Addrs[0])
	waitConnected(t, r1, 1)
}
