package e2e

import (
	"path/filepath"
	"testing"

	"github.com/plexus-p2p/plexus/api/wire"
)

// "plexus perf" measures another daemon over each transport with the
// libp2p perf protocol and reports the byte counts it moved.
func TestPerfThroughDaemons(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	startDaemon(t, a)
	startDaemon(t, b)
	var idA wire.ID
	okJSON(t, a, &idA, "id")
	for _, tr := range []string{"tcp", "quic", "ws"} {
		t.Run(tr, func(t *testing.T) {
			var res wire.PerfResult
			okJSON(t, b, &res, "perf", idA.Addrs[0], "--upload", "1048576", "--download", "4194304", "--transport", tr)
			if res.UploadBytes != 1<<20 || res.DownloadBytes != 4<<20 || res.BPS <= 0 || res.TimeToFirstByteMS <= 0 {
				t.Fatalf("perf over %s: %+v", tr, res)
			}
			var peers []wire.Peer
			okJSON(t, b, &peers, "peers")
			if len(peers) != 1 || peers[0].Transport != map[string]string{"tcp": "tcp", "quic": "quic-v1", "ws": "ws"}[tr] {
				t.Fatalf("after perf over %s: connections %+v", tr, peers)
			}
		})
	}
	fails(t, b, "unknown transport", "perf", idA.PeerID, "--transport", "carrier-pigeon")
	fails(t, b, "invalid peer ID", "perf", "nope")
}

// Issue 20 row 6: "plexus perf" against a node that does not serve perf
// (perf.enabled = false, the default profile's setting) fails with an error
// that says so; one that serves it refuses more than its perf.max_bytes.
func TestPerfOffOrCapped(t *testing.T) {
	base := t.TempDir()
	off, capped, client := filepath.Join(base, "off"), filepath.Join(base, "capped"), filepath.Join(base, "client")
	for _, r := range []string{off, capped} {
		ok(t, r, "init", "--profile", "local")
	}
	ok(t, off, "config", "set", "perf.enabled", "false")
	ok(t, capped, "config", "set", "perf.max_bytes", "1048576")
	fails(t, capped, "perf.max_bytes", "config", "set", "perf.max_bytes", "0")
	// --profile default: the local settings written by init, without the
	// local profile's perf.enabled = true on top.
	startDaemon(t, off, "--profile", "default")
	startDaemon(t, capped, "--profile", "default")
	startDaemon(t, client)
	var idOff, idCapped wire.ID
	okJSON(t, off, &idOff, "id")
	okJSON(t, capped, &idCapped, "id")
	fails(t, client, "perf.enabled = false", "perf", idOff.Addrs[0], "--download", "1073741824")
	fails(t, client, "perf.max_bytes", "perf", idCapped.Addrs[0], "--download", "1073741824")
	var res wire.PerfResult
	okJSON(t, client, &res, "perf", idCapped.Addrs[0], "--upload", "1024", "--download", "1048576")
	if res.DownloadBytes != 1<<20 {
		t.Fatalf("perf within the cap: %+v", res)
	}
}
