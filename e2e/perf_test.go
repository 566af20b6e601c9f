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
