package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// readRepoFile returns a repo file's content ("" when it is missing).
func readRepoFile(t *testing.T, repo, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, name))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// A daemon started with a profile runs with it without writing it into the
// repo; while it runs, init cannot replace the repo under it, and a deleted
// API token comes back.
func TestRunningDaemonAndItsRepo(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r")
	d := startDaemon(t, repo) // first run, PLEXUS_PROFILE=local as "make run" sets it

	// The profile is in effect and says so, but the file keeps the defaults,
	// so a later "make run PROFILE=default" listens on every interface.
	var id wire.ID
	okJSON(t, repo, &id, "id")
	if id.Profile != "local" {
		t.Fatalf("id profile %q, want local", id.Profile)
	}
	if out := ok(t, repo, "id"); !strings.Contains(out, "Profile:   local") {
		t.Fatalf("id output:\n%s", out)
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(d.out.String(), "Profile: local (applied at start")
	}, "banner does not name the profile:\n%s", d.out)
	if listen := ok(t, repo, "config", "get", "network.listen"); !strings.Contains(listen, `"/ip4/0.0.0.0/tcp/4101"`) {
		t.Fatalf("the start profile was written into config.toml: network.listen = %s", listen)
	}
	show := ok(t, repo, "config", "show")
	if first, _, _ := strings.Cut(show, "\n"); !strings.HasPrefix(first, "# Profile in effect: local (the running daemon applied it at start") {
		t.Fatalf("config show begins %q", first)
	}

	// init, in any form, is refused while the daemon holds the repo.
	files := map[string]string{}
	for _, f := range []string{"identity.key", "config.toml", "api.token"} {
		files[f] = readRepoFile(t, repo, f)
	}
	for _, args := range [][]string{{"init", "--force"}, {"init", "--force", "--new-identity"}, {"init", "--force", "--config-only"}} {
		fails(t, repo, "is locked: another plexus daemon is using it", args...)
	}
	for f, content := range files {
		if readRepoFile(t, repo, f) != content {
			t.Fatalf("a refused init changed %s", f)
		}
	}

	// A deleted API token is written back; the CLI reaches the daemon again.
	if err := os.Remove(filepath.Join(repo, "api.token")); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		return plexus(t, repo, "id", "--timeout", "2s").code == 0
	}, "the CLI cannot reach the daemon after api.token was deleted")
	if readRepoFile(t, repo, "api.token") != files["api.token"] {
		t.Fatal("api.token came back with another token")
	}
	if st, err := os.Stat(filepath.Join(repo, "api.token")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("restored api.token: %v", err)
	}
	var after wire.ID
	okJSON(t, repo, &after, "id")
	if after.PeerID != id.PeerID {
		t.Fatal("peer ID changed")
	}
	ok(t, repo, "shutdown")
	if err := d.wait(t); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, d.out)
	}

	// With no daemon running, config show says what a daemon started now applies.
	r := plexusEnv(t, repo, []string{"PLEXUS_PROFILE=default"}, "config", "show")
	if !strings.HasPrefix(r.stdout, "# Profile in effect: none (a daemon started now uses this file as written)\n") {
		t.Fatalf("config show with PLEXUS_PROFILE=default: %q %s", firstLine(r.stdout), r.stderr)
	}
	// Only init --profile writes a profile; init under $PLEXUS_PROFILE says it does not.
	written := filepath.Join(t.TempDir(), "local")
	ok(t, written, "init", "--profile", "local")
	if show := ok(t, written, "config", "show"); !strings.Contains(firstLine(show), "the file itself holds the local profile's settings") {
		t.Fatalf("config show of an init --profile local repo: %q", firstLine(show))
	}
	plain := filepath.Join(t.TempDir(), "plain")
	if out := ok(t, plain, "init"); !strings.Contains(out, "$PLEXUS_PROFILE=local is applied when the daemon starts, not written") {
		t.Fatalf("init output:\n%s", out)
	}
	if listen := ok(t, plain, "config", "get", "network.listen"); !strings.Contains(listen, `"/ip4/0.0.0.0/tcp/4101"`) {
		t.Fatalf("init wrote $PLEXUS_PROFILE into config.toml: %s", listen)
	}
	// Without a daemon to write it back, the CLI says what to do.
	os.WriteFile(filepath.Join(plain, "api"), []byte("127.0.0.1:1\n"), 0o600)
	os.Remove(filepath.Join(plain, "api.token"))
	fails(t, plain, "api.token is missing: a running daemon writes it back", "id")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// A repo that lost its identity is refused with the ways out, and its
// config is never overwritten; one that lost its config gets a default
// config and keeps its identity. Private files left readable are warned
// about at start.
func TestLostIdentityAndConfig(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r")
	ok(t, repo, "init")
	ok(t, repo, "config", "set", "conn_manager.high_water", "500")
	cfg := readRepoFile(t, repo, "config.toml")
	first := strings.TrimSpace(ok(t, repo, "init", "--force", "--config-only")) // resets the config...
	if !strings.HasPrefix(first, "wrote "+filepath.Join(repo, "config.toml")) {
		t.Fatalf("init --config-only: %s", first)
	}
	ok(t, repo, "config", "set", "conn_manager.high_water", "500") // ...so set it again
	if readRepoFile(t, repo, "config.toml") != cfg {
		t.Fatal("config differs after reset and set")
	}

	os.Remove(filepath.Join(repo, "identity.key"))
	fails(t, repo, "init --new-identity", "daemon")
	fails(t, repo, "but no identity", "init")
	if readRepoFile(t, repo, "config.toml") != cfg || readRepoFile(t, repo, "identity.key") != "" {
		t.Fatal("a refused start or init changed the repo")
	}
	ok(t, repo, "init", "--new-identity")
	if readRepoFile(t, repo, "config.toml") != cfg {
		t.Fatal("init --new-identity changed the config")
	}
	// Restored or copied files often lose their mode: the daemon says so.
	for _, f := range []string{"identity.key", "api.token"} {
		os.Chmod(filepath.Join(repo, f), 0o644)
	}
	d := startDaemon(t, repo)
	for _, f := range []string{"identity.key", "api.token"} {
		if want := "run chmod 600 " + filepath.Join(repo, f); !strings.Contains(d.out.String(), want) {
			t.Fatalf("no warning %q at start:\n%s", want, d.out)
		}
	}
	var before wire.ID
	okJSON(t, repo, &before, "id")
	if v := strings.TrimSpace(ok(t, repo, "config", "get", "conn_manager.high_water")); v != "500" {
		t.Fatalf("high_water = %s after a new identity", v)
	}
	ok(t, repo, "shutdown")
	d.wait(t)

	// The config lost: the daemon writes the defaults, the peer ID stays.
	os.Remove(filepath.Join(repo, "config.toml"))
	fails(t, repo, "init --config-only", "config", "show")
	d = startDaemon(t, repo)
	if !strings.Contains(d.out.String(), "Wrote a default config.toml") {
		t.Fatalf("daemon did not say it wrote the config:\n%s", d.out)
	}
	var after wire.ID
	okJSON(t, repo, &after, "id")
	if after.PeerID != before.PeerID {
		t.Fatalf("peer ID changed: %s -> %s", before.PeerID, after.PeerID)
	}
}

// A config that leaves the node nothing to listen on is refused, naming the
// setting, before anything starts.
func TestNoUsableListenAddress(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r")
	ok(t, repo, "init")
	ok(t, repo, "config", "set", "transports.websocket", "false")
	fails(t, repo, "network.listen: no usable listen address: the transport of every address is disabled (transports.websocket = false)",
		"daemon", "--listen", "/ip4/127.0.0.1/tcp/0/ws")
	fails(t, repo, "network.listen: empty", "config", "set", "network.listen", "")
}

// Counts and timeouts that mean nothing are refused; negative config values
// reach the setting's validation instead of being read as flags.
func TestBadNumbersThroughCLI(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "r")
	ok(t, repo, "init")
	other := "12D3KooWGRUVh1GfmknJFWSXJYy8Y5yGwv8oJjRiSPmRQRRUbBcu"
	fails(t, repo, `invalid argument "0" for "-n, --count" flag: 0 is less than 1`, "ping", other, "-n", "0")
	fails(t, repo, `invalid argument "0" for "-n, --count" flag`, "dht", "findprovs", "key", "-n", "0")
	fails(t, repo, `invalid argument "0" for "--timeout" flag: 0 is not a positive duration`, "ping", other, "--timeout", "0")
	fails(t, repo, `invalid argument "-1s" for "--timeout" flag`, "id", "--timeout", "-1s")
	fails(t, repo, "low_water (-5)", "config", "set", "conn_manager.low_water", "-5")
	fails(t, repo, "conn_manager.grace_period: negative (-1s)", "config", "set", "conn_manager.grace_period", "-1s")
	// Flags still work before KEY and after VALUE.
	ok(t, "", "config", "set", "--repo", repo, "conn_manager.high_water", "450", "--timeout", "5s")
	if v := strings.TrimSpace(ok(t, repo, "config", "get", "conn_manager.high_water")); v != "450" {
		t.Fatalf("high_water = %s", v)
	}
	fails(t, repo, "extra argument", "config", "set", "conn_manager.high_water", "450", "451")
}
