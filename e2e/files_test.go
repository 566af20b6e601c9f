package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
)

func writeFiles(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

type addedLine struct {
	Path string `json:"path"`
	wire.Added
}

// One daemon adds a file, a directory and stdin; the other lists, cats and
// gets them through the CLI, pins, collects garbage, and refuses bad input.
// The first serves the trustless gateway without a token.
func TestFilesThroughDaemons(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	gw := freeAddr(t)
	startDaemon(t, a, "--gateway-listen", gw)
	var idA wire.ID
	okJSON(t, a, &idA, "id")
	startDaemon(t, b, "--bootstrap", idA.Addrs[0])
	waitConnected(t, b, 1)

	data := filepath.Join(base, "data")
	big := randomBytes(1, 3<<20+123) // 13 chunks, the last one short
	writeFiles(t, data, map[string][]byte{
		"big.bin":             big,
		"site/index.html":     []byte("<h1>hello</h1>\n"),
		"site/css/a.css":      []byte("h1 {}\n"),
		"site/empty":          nil,
		"site/.git/HEAD":      []byte("ref: refs/heads/main\n"),
		"site/deep/er/x.json": []byte(`{"x":1}`),
	})

	out := ok(t, a, "add", filepath.Join(data, "big.bin"), filepath.Join(data, "site"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "added bafy") || !strings.Contains(lines[0], "big.bin (3.0 MiB)") ||
		!strings.HasPrefix(lines[1], "added bafy") || !strings.HasSuffix(lines[1], "site (28 B)") {
		t.Fatalf("add output:\n%s", out)
	}
	var added []addedLine
	okJSON(t, a, &added, "add", filepath.Join(data, "big.bin"), filepath.Join(data, "site"))
	if len(added) != 2 || added[0].Size != uint64(len(big)) || added[1].Size != 28 || !strings.Contains(lines[0], added[0].CID) ||
		!strings.Contains(lines[1], added[1].CID) {
		t.Fatalf("add --json: %+v, want the CIDs of\n%s", added, out)
	}
	bigCID, siteCID := added[0].CID, added[1].CID
	if h := strings.TrimSpace(ok(t, a, "add", "-q", "--only-hash", filepath.Join(data, "big.bin"))); h != bigCID {
		t.Fatalf("--only-hash gave %q, add gave %s", h, bigCID)
	}
	r := plexusStdin(t, a, "hello from stdin\n", nil, "add", "-q", "-")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "bafk") { // one raw block
		t.Fatalf("add -: %+v", r)
	}
	stdinCID := strings.TrimSpace(r.stdout)
	var pinsA []wire.Pin
	okJSON(t, a, &pinsA, "pin", "ls")
	var pinned []string
	for _, p := range pinsA {
		pinned = append(pinned, p.CID)
	}
	slices.Sort(pinned)
	want := []string{bigCID, siteCID, stdinCID}
	slices.Sort(want)
	if !slices.Equal(pinned, want) {
		t.Fatalf("pins on a: %v, want %v", pinned, want)
	}

	// The other node.
	var es []wire.FileEntry
	okJSON(t, b, &es, "ls", siteCID)
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	if strings.Join(names, " ") != "css deep empty index.html" {
		t.Fatalf("ls: %v (hidden .git must be left out)", names)
	}
	if got := ok(t, b, "cat", stdinCID); got != "hello from stdin\n" {
		t.Fatalf("cat: %q", got)
	}
	if got := ok(t, b, "cat", bigCID); got != string(big) {
		t.Fatalf("cat of the big file: %d bytes, want %d equal bytes", len(got), len(big))
	}
	copyDir := filepath.Join(base, "copy")
	out = ok(t, b, "get", siteCID, "-o", copyDir)
	if !strings.Contains(out, "saved directory "+siteCID+" to "+copyDir) {
		t.Fatalf("get output: %q", out)
	}
	for name, want := range map[string]string{"index.html": "<h1>hello</h1>\n", "css/a.css": "h1 {}\n", "empty": "", "deep/er/x.json": `{"x":1}`} {
		if got, err := os.ReadFile(filepath.Join(copyDir, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q %v, want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(copyDir, ".git")); !os.IsNotExist(err) {
		t.Errorf(".git came along: %v", err)
	}
	bigCopy := filepath.Join(base, "big.copy")
	var got struct {
		CID  string `json:"cid"`
		Path string `json:"path"`
		Dir  bool   `json:"dir"`
		Size uint64 `json:"size"`
	}
	okJSON(t, b, &got, "get", bigCID, "-o", bigCopy)
	if got.CID != bigCID || got.Path != bigCopy || got.Dir || got.Size != uint64(len(big)) {
		t.Fatalf("get --json: %+v", got)
	}
	if b2, _ := os.ReadFile(bigCopy); !bytes.Equal(b2, big) {
		t.Fatal("the file got differs from the file added")
	}
	fails(t, b, "already exists", "get", bigCID, "-o", bigCopy)

	var st wire.FileStat
	okJSON(t, b, &st, "files", "stat", bigCID)
	if st.CID != bigCID || st.Dir || st.Size != uint64(len(big)) || !st.Local || st.Pinned || st.LocalBlocks < 13 {
		t.Fatalf("stat on b: %+v", st)
	}
	if out := ok(t, b, "files", "stat", bigCID); !strings.Contains(out, "providers: 1 on the DHT") && !strings.Contains(out, "providers: 2 on the DHT") {
		t.Fatalf("stat on b does not count the providers (a, and b once it announced its copy):\n%s", out)
	}
	if out := ok(t, b, "files", "providers", bigCID); !strings.Contains(out, idA.PeerID) {
		t.Fatalf("providers: %q, want %s", out, idA.PeerID)
	}

	// Pins and garbage collection on b: the pinned file stays, the rest goes.
	if out := ok(t, b, "pin", "add", bigCID); strings.TrimSpace(out) != "pinned "+bigCID {
		t.Fatalf("pin add: %q", out)
	}
	var gc wire.GCResult
	okJSON(t, b, &gc, "files", "gc")
	if gc.Blocks == 0 {
		t.Fatalf("gc removed nothing: %+v (the directory and the stdin file are not pinned on b)", gc)
	}
	okJSON(t, b, &st, "files", "stat", bigCID)
	if !st.Local || !st.Pinned {
		t.Fatalf("the pinned file after gc: %+v", st)
	}
	ok(t, b, "pin", "rm", bigCID)
	fails(t, b, "not pinned", "pin", "rm", bigCID)
	okJSON(t, b, &gc, "files", "gc")
	if gc.Blocks < 13 || gc.Bytes < uint64(len(big)) {
		t.Fatalf("gc after unpinning: %+v, want the file's blocks", gc)
	}

	// Bad input: a clear error and a non-zero exit.
	for _, args := range [][]string{{"cat", "banana"}, {"get", "banana"}, {"ls", "banana"}, {"files", "stat", "banana"},
		{"pin", "add", "banana"}, {"files", "providers", "banana"}} {
		fails(t, b, `invalid CID "banana"`, args...)
	}
	fails(t, a, "no such file or directory", "add", filepath.Join(data, "missing"))

	// The gateway: the raw block and a CAR, no token; the API is not there.
	resp, err := http.Get("http://" + gw + "/ipfs/" + stdinCID + "?format=raw")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello from stdin\n" {
		t.Fatalf("gateway raw: %d %q", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + gw + "/ipfs/" + bigCID + "?format=car")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.ipld.car") || len(body) < len(big) {
		t.Fatalf("gateway car: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	resp, err = http.Get("http://" + gw + "/v1/id")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("the gateway listener serves the API")
	}
}

// Ctrl-C stops a get cleanly: a one-line message saying how to resume, a
// non-zero exit, and nothing at the output path; the same command again
// fetches only the rest.
func TestFilesGetInterrupted(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	startDaemon(t, a)
	var idA wire.ID
	okJSON(t, a, &idA, "id")
	startDaemon(t, b, "--bootstrap", idA.Addrs[0])
	waitConnected(t, b, 1)
	data := filepath.Join(base, "data")

	// Interrupted while the blocks arrive: b's progress events say when.
	big := randomBytes(5, 256<<20)
	writeFiles(t, data, map[string][]byte{"big": big})
	bigCID := strings.TrimSpace(ok(t, a, "add", "-q", filepath.Join(data, "big")))
	cb, err := client.Locate(b, "")
	if err != nil {
		t.Fatal(err)
	}
	events, err := cb.Events(t.Context(), "files.fetch.progress")
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	copyPath := filepath.Join(base, "big.copy")
	cmd := exec.Command(binary, "--repo", b, "get", bigCID, "-o", copyPath)
	cmd.Env = env()
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var before uint64 // bytes on b when Ctrl-C is sent
	for before < uint64(len(big))/8 {
		ev, err := events.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		var p wire.FetchProgress
		if json.Unmarshal(ev.Data, &p) == nil && p.CID == bigCID {
			before = p.Bytes
		}
	}
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if ee, isExit := err.(*exec.ExitError); !isExit || ee.ExitCode() != 1 || !strings.Contains(se.String(), "interrupted; the blocks fetched so far stay on the node") {
		t.Fatalf("get interrupted during the transfer: %v, stderr %q (it finished before Ctrl-C reached it?)", err, se.String())
	}
	if _, err := os.Lstat(copyPath); !os.IsNotExist(err) {
		t.Fatalf("an interrupted get left %s: %v", copyPath, err)
	}
	var again struct {
		Fetched wire.Fetched `json:"fetched"`
	}
	okJSON(t, b, &again, "get", bigCID, "-o", copyPath)
	if again.Fetched.Bytes == 0 || again.Fetched.Bytes > uint64(len(big))-before {
		t.Fatalf("the second get fetched %d of %d bytes, %d were there: want only what the first did not fetch", again.Fetched.Bytes, len(big), before)
	}
	if got, _ := os.ReadFile(copyPath); !bytes.Equal(got, big) {
		t.Fatal("the resumed get wrote different bytes")
	}

	// A CID nobody has: the get looks for providers until Ctrl-C.
	writeFiles(t, data, map[string][]byte{"nobody": randomBytes(4, 1000)})
	missing := strings.TrimSpace(ok(t, a, "add", "-q", "--only-hash", filepath.Join(data, "nobody")))
	never := filepath.Join(base, "never")
	for attempt := 1; ; attempt++ {
		cmd := exec.Command(binary, "--repo", b, "get", missing, "-o", never)
		cmd.Env = env()
		var se bytes.Buffer
		cmd.Stderr = &se
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(attempt) * 500 * time.Millisecond) // let it start and ask the daemon
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		ee, isExit := err.(*exec.ExitError)
		if isExit && ee.Sys().(syscall.WaitStatus).Signaled() && attempt < 4 {
			continue // the signal came before the CLI took it: give it longer
		}
		if !isExit || ee.ExitCode() != 1 || !strings.Contains(se.String(), "get "+missing+": interrupted") {
			t.Fatalf("get interrupted: %v, stderr %q", err, se.String())
		}
		break
	}
	if _, err := os.Lstat(never); !os.IsNotExist(err) {
		t.Fatalf("an interrupted get left %s: %v", never, err)
	}
}
