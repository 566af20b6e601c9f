package config_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/config"
)

// readFile returns the content of a repo file, failing the test if it is
// missing.
func readFile(t *testing.T, r config.Repo, name string) string {
	t.Helper()
	b, err := os.ReadFile(r.File(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newRepo(t *testing.T) config.Repo {
	t.Helper()
	r := config.Repo{Path: t.TempDir() + "/r"}
	if _, err := r.Init(config.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	return r
}

// No form of init changes a repo while a daemon holds its lock.
func TestInitRefusedWhileLocked(t *testing.T) {
	r := newRepo(t)
	key, cfg, tok := readFile(t, r, config.KeyFile), readFile(t, r, config.ConfigFile), readFile(t, r, config.TokenFile)
	unlock, err := r.Lock()
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []config.InitOptions{{Force: true}, {Force: true, NewIdentity: true}, {Force: true, ConfigOnly: true}} {
		if _, err := r.Init(opts); !errors.Is(err, config.ErrLocked) || !strings.Contains(err.Error(), "shutdown") {
			t.Fatalf("init %+v on a locked repo: %v", opts, err)
		}
	}
	if readFile(t, r, config.KeyFile) != key || readFile(t, r, config.ConfigFile) != cfg || readFile(t, r, config.TokenFile) != tok {
		t.Fatal("a refused init changed the repo")
	}
	unlock()
	if _, err := r.Init(config.InitOptions{Force: true}); err != nil {
		t.Fatalf("init --force once the lock is free: %v", err)
	}
	if readFile(t, r, config.KeyFile) == key {
		t.Fatal("init --force kept the identity")
	}
}

// A repo whose identity is gone is refused, never given a new identity or a
// fresh config silently; --new-identity makes one and keeps the config; a
// missing config is written without touching the identity.
func TestPrepareMissingFiles(t *testing.T) {
	r := config.Repo{Path: t.TempDir() + "/r"}
	if got, err := r.Prepare(config.InitOptions{}); err != nil || got != config.PreparedRepo {
		t.Fatalf("empty repo: %v %v", got, err)
	}
	if got, err := r.Prepare(config.InitOptions{}); err != nil || got != config.PreparedNothing {
		t.Fatalf("complete repo: %v %v", got, err)
	}
	c, err := r.Config()
	if err != nil {
		t.Fatal(err)
	}
	c.ConnManager.HighWater = 777
	if err := config.Save(r.File(config.ConfigFile), c); err != nil {
		t.Fatal(err)
	}
	edited, tok := readFile(t, r, config.ConfigFile), readFile(t, r, config.TokenFile)

	// Identity deleted: refused, nothing written.
	os.Remove(r.File(config.KeyFile))
	_, err = r.Prepare(config.InitOptions{})
	if !errors.Is(err, config.ErrIdentityMissing) || !strings.Contains(err.Error(), "init --new-identity") || !strings.Contains(err.Error(), "restore") {
		t.Fatalf("missing identity: %v", err)
	}
	if r.Initialized() || readFile(t, r, config.ConfigFile) != edited {
		t.Fatal("a refused start wrote an identity or the config")
	}
	// Plain init refuses too, naming the way out.
	if _, err := r.Init(config.InitOptions{}); err == nil || !strings.Contains(err.Error(), "--new-identity") {
		t.Fatalf("init on a repo with a config and no identity: %v", err)
	}
	sk, err := r.Init(config.InitOptions{NewIdentity: true})
	if err != nil || sk == nil {
		t.Fatalf("init --new-identity: %v", err)
	}
	if readFile(t, r, config.ConfigFile) != edited || readFile(t, r, config.TokenFile) != tok {
		t.Fatal("init --new-identity changed the config or the token")
	}
	if _, err := r.Init(config.InitOptions{NewIdentity: true}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("init --new-identity over an identity: %v", err)
	}

	// Config deleted: a default one is written, the identity kept.
	os.Remove(r.File(config.ConfigFile))
	if _, err := r.Config(); err == nil || !strings.Contains(err.Error(), "init --config-only") {
		t.Fatalf("config of a repo without one: %v", err)
	}
	if got, err := r.Prepare(config.InitOptions{}); err != nil || got != config.PreparedConfig {
		t.Fatalf("missing config: %v %v", got, err)
	}
	if k, err := r.Key(); err != nil || !k.Equals(sk) {
		t.Fatalf("identity after writing the config: %v", err)
	}
	if c, err := r.Config(); err != nil || c.ConnManager.HighWater != config.Default().ConnManager.HighWater {
		t.Fatalf("written config: %v %+v", err, c.ConnManager)
	}
	// --config-only never replaces a config without --force, and keeps the identity.
	if _, err := r.Init(config.InitOptions{ConfigOnly: true}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("init --config-only over a config: %v", err)
	}
	if k, err := r.Init(config.InitOptions{ConfigOnly: true, Force: true, Profile: "local"}); err != nil || !k.Equals(sk) {
		t.Fatalf("init --config-only --force: %v", err)
	}
	if c, _ := r.Config(); config.ProfileOf(c) != "local" {
		t.Fatal("init --config-only --profile local did not write the profile")
	}
	if _, err := r.Init(config.InitOptions{ConfigOnly: true, NewIdentity: true}); err == nil {
		t.Fatal("--config-only with --new-identity accepted")
	}
}

// Identity and token readable by others are named with the fix.
func TestLoosePermissions(t *testing.T) {
	r := newRepo(t)
	if w := r.LoosePermissions(); len(w) != 0 {
		t.Fatalf("a new repo: %q", w)
	}
	for _, f := range []string{config.KeyFile, config.TokenFile} {
		if err := os.Chmod(r.File(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w := r.LoosePermissions()
	if len(w) != 2 {
		t.Fatalf("warnings %q", w)
	}
	for i, f := range []string{config.KeyFile, config.TokenFile} {
		if !strings.Contains(w[i], "0644") || !strings.Contains(w[i], "chmod 600 "+r.File(f)) {
			t.Fatalf("warning %q", w[i])
		}
	}
}

// Restore writes a deleted file back with mode 0600 and leaves an existing
// one alone.
func TestRestore(t *testing.T) {
	r := newRepo(t)
	tok := readFile(t, r, config.TokenFile)
	if done, err := r.Restore(config.TokenFile, "other"); done || err != nil || readFile(t, r, config.TokenFile) != tok {
		t.Fatalf("restore over an existing file: %v %v", done, err)
	}
	os.Remove(r.File(config.TokenFile))
	if done, err := r.Restore(config.TokenFile, strings.TrimSpace(tok)); !done || err != nil {
		t.Fatalf("restore: %v %v", done, err)
	}
	st, err := os.Stat(r.File(config.TokenFile))
	if err != nil || st.Mode().Perm() != 0o600 || readFile(t, r, config.TokenFile) != tok {
		t.Fatalf("restored token: %v %v", st.Mode(), err)
	}
	if got, err := r.Token(); err != nil || got+"\n" != tok {
		t.Fatalf("token %q: %v", got, err)
	}
}
