package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeBlock returns the first ```sh block of the README section titled
// heading.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q section", heading)
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	_, block, ok := strings.Cut(section, "```sh\n")
	if !ok {
		t.Fatalf("README section %q has no sh block", heading)
	}
	block, _, _ = strings.Cut(block, "```")
	return block
}

// The README's Accounts block runs as pasted (with bin/plexus built).
func TestReadmeAccounts(t *testing.T) {
	block := readmeBlock(t, "## Accounts")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(dir, "bin", "plexus")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// On failure, stop a daemon the block left running (its repo is the
	// only one under TMPDIR=dir).
	t.Cleanup(func() {
		repos, _ := filepath.Glob(filepath.Join(dir, "tmp.*", "node"))
		for _, r := range repos {
			exec.Command(binary, "--repo", r, "shutdown").Run()
		}
	})
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", block)
	cmd.Dir = dir
	cmd.Env = env("TMPDIR=" + dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README block failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"added user alice (admin)", "added user bob (viewer)",
		"needs the admin role", "refused",
		`"username": "alice"`, `"code": "csrf"`, `"status": "logged out"`,
		"password of bob changed", "unknown or revoked", "revoked",
		"deleted user bob",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the block's output lacks %q:\n%s", want, out)
		}
	}
}
