package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock is one fenced sh block of README.md.
type readmeBlock struct {
	heading string // the ## or ### heading it is under ("" before the first)
	line    int    // where its code starts
	code    string
}

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeBlock
	var heading string
	var cur *readmeBlock
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		case line == "```sh":
			cur = &readmeBlock{heading: heading, line: i + 2}
		case strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### "):
			heading = strings.TrimLeft(line, "# ")
		}
	}
	return out
}

// startsNodes matches the commands that start nodes.
var startsNodes = regexp.MustCompile(`plexus daemon|plexus devnet|make run|systemctl (enable|start)|docker run`)

// The README's shell blocks that start nodes run as written, with bash
// (-e: every command must succeed), in the module's directory, with the
// local profile, TMPDIR a fresh directory (the blocks' only variable) and
// no other PLEXUS_* settings; each must leave no process behind. The blocks
// that start nodes but cannot run here say why below.
func TestREADME(t *testing.T) {
	run := map[string]bool{"A network in one command": true, "Four nodes on one machine": true, "Tunnels": true, "Files": true, "Private networks": true,
		"Allowlist and denylist": true, "Metrics and the network dashboard": true, "Dashboard": true,
		"Joining the IPFS network": true}
	notRun := map[string]string{
		"":                        "make run runs a node in the foreground until Ctrl-C, make test is this suite",
		"Running it as a service": "needs systemd or a Docker engine: TestSystemdUnit and TestDockerfile check the files",
		"Accounts":                "run by TestReadmeAccounts, which also checks what it prints",
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the README's blocks use it to read JSON")
	}
	ran := map[string]bool{}
	for _, b := range readmeBlocks(t) {
		if !startsNodes.MatchString(b.code) {
			continue
		}
		if _, ok := notRun[b.heading]; ok {
			continue
		}
		if !run[b.heading] {
			t.Errorf("README.md:%d (%q) starts nodes but TestREADME does not run it: add its heading to run", b.line, b.heading)
			continue
		}
		ran[b.heading] = true
		t.Run(strings.ReplaceAll(b.heading, " ", "_"), func(t *testing.T) { runBlock(t, b) })
	}
	for h := range run {
		if !ran[h] {
			t.Errorf("README.md has no sh block that starts nodes under %q", h)
		}
	}
	t.Run("sections_on_the_four_nodes", func(t *testing.T) { runOnFourNodes(t, readmeBlocks(t)) })
}

// fourNodeSections are the README sections whose blocks use the four nodes
// of "Four nodes on one machine" ($R/n1 ... $R/n4) with their daemons running.
var fourNodeSections = []string{"HTTP API", "Publish/subscribe", "DHT records", "Direct request/response"}

// runOnFourNodes runs the blocks of fourNodeSections as a reader would: after
// the lines of "Four nodes on one machine" that start the daemons, and
// before stopping them.
func runOnFourNodes(t *testing.T, blocks []readmeBlock) {
	var setup string
	for _, b := range blocks {
		if b.heading != "Four nodes on one machine" {
			continue
		}
		for _, line := range strings.SplitAfter(b.code, "\n") {
			if strings.Contains(line, " events ") {
				continue // the live event stream is not needed here
			}
			setup += line
			if strings.HasPrefix(line, "for i in 2 3 4") {
				break
			}
		}
	}
	if !strings.Contains(setup, "--detach") {
		t.Fatal("README.md: no daemons started in \"Four nodes on one machine\"")
	}
	code := setup
	for _, h := range fourNodeSections {
		found := false
		for _, b := range blocks {
			if b.heading == h && strings.Contains(b.code, "$R/n") {
				code += "# --- " + h + "\n" + b.code
				found = true
			}
		}
		if !found {
			t.Errorf("README.md has no sh block on the four nodes under %q", h)
		}
	}
	code += "for i in 1 2 3 4; do bin/plexus --repo $R/n$i shutdown; done\nwait\n"
	runBlock(t, readmeBlock{heading: strings.Join(fourNodeSections, ", "), line: 0, code: code})
}

func runBlock(t *testing.T, b readmeBlock) {
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", b.code)
	cmd.Dir = ".."
	cmd.Env = env("TMPDIR=" + tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Cleanup(func() {
		// Whatever the block left running: its process group, and daemons
		// it detached (in their own sessions), found by their repos in tmp.
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		for _, pid := range procsMentioning(tmp) {
			syscall.Kill(pid, syscall.SIGKILL)
			waitExit(pid, 5*time.Second)
		}
	})
	err := cmd.Run()
	if err != nil {
		t.Fatalf("README.md:%d (%s) failed: %v\n--- block ---\n%s--- output ---\n%s", b.line, b.heading, err, b.code, out.String())
	}
	// Every node the block started has stopped (or is exiting).
	deadline := time.Now().Add(10 * time.Second)
	for len(procsMentioning(tmp)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("README.md:%d (%s) left processes %v running\n--- output ---\n%s", b.line, b.heading, procsMentioning(tmp), out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("README.md:%d (%s):\n%s", b.line, b.heading, out.String())
}
