package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
)

// "plexus devnet --nodes 4" prints a table of its nodes, each reachable
// through the CLI by its repo; Ctrl-C stops them all and removes the
// temporary directory.
func TestDevnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "devnet", "--nodes", "4")
	cmd.Env = env()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	var repos, peerIDs []string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 5 && f[0] != "NODE" {
			peerIDs, repos = append(peerIDs, f[1]), append(repos, f[4])
		}
		if strings.Contains(sc.Text(), "nodes running") {
			break
		}
	}
	if len(repos) != 4 {
		t.Fatalf("devnet table has %d rows", len(repos))
	}
	for _, repo := range repos {
		waitConnected(t, repo, 3)
	}
	var res wire.PingResult
	okJSON(t, repos[3], &res, "ping", peerIDs[1], "-n", "1")
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("devnet exit: %v", err)
	}
	dir := strings.TrimSuffix(repos[0], "/node1")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("devnet left %s behind", dir)
	}
}

func TestDevnetBadSize(t *testing.T) {
	fails(t, t.TempDir(), "outside 1..200", "devnet", "--nodes", "0")
	fails(t, t.TempDir(), "outside 1..200", "devnet", "--nodes", "100000")
}
