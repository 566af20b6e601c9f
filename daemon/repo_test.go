package daemon

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// TestMain fails the run if a test leaves goroutines behind (the repo
// watcher must stop on Close).
func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDaemon starts a daemon on a new local-profile repo and returns it
// with its log.
func startDaemon(t *testing.T, prepare func(config.Repo)) (*Daemon, *lockedBuffer) {
	t.Helper()
	repo := config.Repo{Path: filepath.Join(t.TempDir(), "r")}
	if _, err := repo.Init(config.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(repo)
	}
	var log lockedBuffer
	d, err := Start(t.Context(), Options{Repo: repo, Config: testnet.LocalConfig(), Profile: "local",
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, &log
}

// The API token and address files deleted under a running daemon come back
// with the same content and mode 0600; Close still removes the API file.
func TestDeletedRepoFilesAreRestored(t *testing.T) {
	d, log := startDaemon(t, nil)
	want := map[string]string{}
	for _, f := range []string{config.TokenFile, config.APIAddrFile} {
		b, err := os.ReadFile(d.repo.File(f))
		if err != nil {
			t.Fatal(err)
		}
		want[f] = string(b)
		if err := os.Remove(d.repo.File(f)); err != nil {
			t.Fatal(err)
		}
	}
	for f, content := range want {
		testnet.Eventually(t, 10*time.Second, func() bool {
			b, err := os.ReadFile(d.repo.File(f))
			return err == nil && string(b) == content
		}, "%s was not restored", f)
		if st, err := os.Stat(d.repo.File(f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s restored with mode %v (%v)", f, st.Mode().Perm(), err)
		}
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		return strings.Count(log.String(), "restored a repo file") == 2
	}, "no warning for each restored file:\n%s", testnet.Lazy(log.String))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.repo.File(config.APIAddrFile)); !os.IsNotExist(err) {
		t.Fatalf("api file after Close: %v", err)
	}
}

// A daemon started on a repo whose identity or token others can read warns,
// naming each file and the command that fixes it.
func TestLoosePermissionsWarnedAtStart(t *testing.T) {
	d, log := startDaemon(t, func(r config.Repo) {
		for _, f := range []string{config.KeyFile, config.TokenFile} {
			if err := os.Chmod(r.File(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, f := range []string{config.KeyFile, config.TokenFile} {
		if want := "chmod 600 " + d.repo.File(f); !strings.Contains(log.String(), want) {
			t.Fatalf("no warning with %q:\n%s", want, log)
		}
	}
}
