package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// Three daemons: B and C join through A. C follows a topic with
// "plexus pubsub sub --json"; A and B publish text and binary data.
func TestPubSubThroughDaemons(t *testing.T) {
	base := t.TempDir()
	a, b, c := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")
	startDaemon(t, a)
	var idA wire.ID
	okJSON(t, a, &idA, "id")
	startDaemon(t, b, "--bootstrap", idA.Addrs[0])
	startDaemon(t, c, "--bootstrap", idA.Addrs[0])
	ok(t, a, "pubsub", "join", "news")
	ok(t, b, "pubsub", "join", "news")

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, binary, "--repo", c, "pubsub", "sub", "news", "--json")
	sub.Env = env()
	stdout, _ := sub.StdoutPipe()
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sub.Wait() })
	msgs := make(chan wire.Message, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() {
			var m wire.Message
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				msgs <- m
			}
		}
		close(msgs)
	}()
	// Wait until C's subscription has meshed with the others.
	testnet.Eventually(t, 20*time.Second, func() bool {
		var ts []wire.TopicInfo
		okJSON(t, c, &ts, "pubsub", "ls")
		return len(ts) == 1 && ts[0].Peers >= 2 && ts[0].LocalSubscribers == 1
	}, "C's subscription did not see the topic's peers")

	var res wire.PublishResult
	okJSON(t, a, &res, "pubsub", "pub", "news", "hello from a")
	if res.Peers < 1 || res.NoPeers {
		t.Fatalf("publish result %+v", res)
	}
	binaryData := []byte{0, 0xff, 'x', 0x80, '\n'}
	pub := exec.Command(binary, "--repo", b, "pubsub", "pub", "news", "-")
	pub.Env = env()
	pub.Stdin = bytes.NewReader(binaryData)
	if out, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("publish binary: %v %s", err, out)
	}
	want := map[string]string{idA.PeerID: "hello from a"}
	var idB wire.ID
	okJSON(t, b, &idB, "id")
	want[idB.PeerID] = string(binaryData)
	for len(want) > 0 {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("subscription ended early")
			}
			if w, found := want[m.From]; !found || w != string(m.Data) || m.Topic != "news" {
				t.Fatalf("unexpected message %+v", m)
			}
			delete(want, m.From)
		case <-time.After(20 * time.Second):
			t.Fatalf("messages not received: %v", want)
		}
	}
	peers := ok(t, a, "pubsub", "peers", "news")
	if !strings.Contains(peers, idB.PeerID) {
		t.Fatalf("topic peers of A: %s", peers)
	}
	// Issue 20 row 7: scores and rate-limit drops are visible; B is scored
	// (within the 5 s score refresh) and has had nothing dropped.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var scores []wire.PubSubPeerScore
		okJSON(t, a, &scores, "pubsub", "scores")
		if i := slices.IndexFunc(scores, func(s wire.PubSubPeerScore) bool { return s.Peer == idB.PeerID }); i >= 0 {
			if scores[i].Score < 0 || scores[i].RateLimited != 0 {
				t.Fatalf("B's standing with A: %+v", scores[i])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A does not score B: %+v", scores)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := ok(t, a, "pubsub", "scores"); !strings.Contains(out, "RATE-LIMITED") || !strings.Contains(out, idB.PeerID) {
		t.Fatalf("pubsub scores: %s", out)
	}
	// An oversized message is refused at the publisher with the limit named.
	big := exec.Command(binary, "--repo", a, "pubsub", "pub", "news", "-")
	big.Env = env()
	big.Stdin = strings.NewReader(strings.Repeat("x", 1<<20+1))
	var stderr bytes.Buffer
	big.Stderr = &stderr
	if err := big.Run(); err == nil || !strings.Contains(stderr.String(), "1048576") {
		t.Fatalf("oversized publish: %v %q", err, stderr.String())
	}
	fails(t, a, "topic", "pubsub", "pub", "", "x")
	fails(t, a, "not joined", "pubsub", "leave", "never-joined")
}
