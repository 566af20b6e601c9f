package config_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/swarmkey"
)

func TestInitPrivate(t *testing.T) {
	repo := config.Repo{Path: t.TempDir()}
	if _, err := repo.Init(config.InitOptions{Profile: "local", Private: true}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(repo.File(config.SwarmKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("swarm.key mode %04o, want 0600", fi.Mode().Perm())
	}
	k, err := repo.SwarmKey()
	if err != nil || len(k) != swarmkey.Size {
		t.Fatalf("SwarmKey: %x, %v", k, err)
	}
	if w := repo.LoosePermissions(); len(w) != 0 {
		t.Fatalf("warnings for 0600 files: %v", w)
	}

	// A second init --private refuses to replace the key, naming it; with
	// --force it makes a new one.
	_, err = repo.Init(config.InitOptions{Private: true})
	if err == nil || !strings.Contains(err.Error(), "already has an identity") {
		t.Fatalf("second init: %v", err)
	}
	if _, err := repo.Init(config.InitOptions{Private: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	k2, err := repo.SwarmKey()
	if err != nil || bytes.Equal(k, k2) {
		t.Fatalf("init --private --force kept the key (%v)", err)
	}

	// A repo with a swarm key but no identity (key imported first) refuses
	// init --private before writing anything.
	fresh := config.Repo{Path: t.TempDir()}
	if _, err := fresh.ImportSwarmKey(k, false); err != nil {
		t.Fatal(err)
	}
	_, err = fresh.Init(config.InitOptions{Private: true})
	if err == nil || !strings.Contains(err.Error(), "already has a swarm key (fingerprint "+swarmkey.Fingerprint(k)+")") {
		t.Fatalf("init --private over an imported key: %v", err)
	}
	if fresh.Initialized() {
		t.Fatal("the refused init wrote an identity")
	}
	// Plain init keeps the imported key: the node is private.
	if _, err := fresh.Init(config.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := fresh.SwarmKey(); !bytes.Equal(got, k) {
		t.Fatal("init replaced the imported swarm key")
	}
}

func TestSwarmKeyAbsentIsPublic(t *testing.T) {
	repo := config.Repo{Path: t.TempDir()}
	if _, err := repo.Init(config.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	k, err := repo.SwarmKey()
	if k != nil || err != nil || repo.HasSwarmKey() {
		t.Fatalf("repo without swarm.key: %x, %v", k, err)
	}
}

func TestImportSwarmKey(t *testing.T) {
	repo := config.Repo{Path: t.TempDir()}
	k, _ := swarmkey.Generate()
	file := t.TempDir() + "/swarm.key"
	if err := os.WriteFile(file, swarmkey.Encode(k), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := config.ReadSwarmKeyFile(file, nil)
	if err != nil || !bytes.Equal(got, k) {
		t.Fatalf("ReadSwarmKeyFile: %v", err)
	}
	fromStdin, err := config.ReadSwarmKeyFile("-", bytes.NewReader(swarmkey.Encode(k)))
	if err != nil || !bytes.Equal(fromStdin, k) {
		t.Fatalf("ReadSwarmKeyFile(-): %v", err)
	}
	changed, err := repo.ImportSwarmKey(got, false)
	if err != nil || !changed {
		t.Fatalf("import: %v, %v", changed, err)
	}
	if fi, _ := os.Stat(repo.File(config.SwarmKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("imported key mode %04o, want 0600", fi.Mode().Perm())
	}
	if changed, err := repo.ImportSwarmKey(k, false); err != nil || changed {
		t.Fatalf("importing the same key again: %v, %v", changed, err)
	}
	other, _ := swarmkey.Generate()
	_, err = repo.ImportSwarmKey(other, false)
	if err == nil || !strings.Contains(err.Error(), "use --force") {
		t.Fatalf("import of another key without force: %v", err)
	}
	if changed, err := repo.ImportSwarmKey(other, true); err != nil || !changed {
		t.Fatalf("import --force: %v, %v", changed, err)
	}
	if now, _ := repo.SwarmKey(); !bytes.Equal(now, other) {
		t.Fatal("forced import did not replace the key")
	}

	// Malformed input is refused with the file name and the reason.
	bad := t.TempDir() + "/bad.key"
	os.WriteFile(bad, []byte("/key/swarm/psk/1.0.0/\n/base16/\nabcd\n"), 0o600)
	_, err = config.ReadSwarmKeyFile(bad, nil)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "the key is 4 hex digits, want 64") {
		t.Fatalf("malformed file: %v", err)
	}
	_, err = config.ReadSwarmKeyFile("-", strings.NewReader("hello"))
	if err == nil || !strings.Contains(err.Error(), "stdin: malformed swarm key") {
		t.Fatalf("malformed stdin: %v", err)
	}
	_, err = config.ReadSwarmKeyFile(t.TempDir()+"/missing", nil)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

// A broken swarm.key in a repo is an error, never a silent fall back to the
// public network; a key readable by others draws a warning.
func TestSwarmKeyInRepoBrokenOrExposed(t *testing.T) {
	repo := config.Repo{Path: t.TempDir()}
	os.WriteFile(repo.File(config.SwarmKeyFile), []byte("not a key\n"), 0o600)
	k, err := repo.SwarmKey()
	if err == nil || k != nil || !strings.Contains(err.Error(), "without it the node is not private") {
		t.Fatalf("broken key: %x, %v", k, err)
	}
	good, _ := swarmkey.Generate()
	os.WriteFile(repo.File(config.SwarmKeyFile), swarmkey.Encode(good), 0o644)
	os.Chmod(repo.File(config.SwarmKeyFile), 0o644)
	if w := repo.LoosePermissions(); len(w) != 1 || !strings.Contains(w[0], repo.File(config.SwarmKeyFile)+" has mode 0644") ||
		!strings.Contains(w[0], "chmod 600 "+repo.File(config.SwarmKeyFile)) {
		t.Fatalf("warnings %q", w)
	}
}
