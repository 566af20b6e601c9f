package daemon_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/daemon"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// Without a daemon, the accounts of a repo are served in-process with the
// API's checks, kept in the repo's datastore, and refused while the repo is
// locked.
func TestOpenAccounts(t *testing.T) {
	ctx := context.Background()
	repo := config.Repo{Path: filepath.Join(t.TempDir(), "r")}
	if _, err := daemon.OpenAccounts(repo, testnet.Quiet); !errors.Is(err, config.ErrNotInitialized) {
		t.Fatalf("uninitialised repo: %v", err)
	}
	if _, err := repo.Init(config.InitOptions{Profile: "local"}); err != nil {
		t.Fatal(err)
	}
	a, err := daemon.OpenAccounts(repo, testnet.Quiet)
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewWithTransport("http://in-process", a.Token, a)
	if _, err := c.AddUser(ctx, "Alice", "correct horse battery staple", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddUser(ctx, "alice", "correct horse battery staple", ""); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("existing user: %v", err)
	}
	if _, err := c.CreateToken(ctx, "", "", 0, ""); !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), "username") {
		t.Fatalf("token without an owner: %v", err)
	}
	if _, err := c.ID(ctx); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("a node route without a node: %v", err)
	}
	// The repo is locked while open: a second opener (or a daemon) is refused.
	if _, err := daemon.OpenAccounts(repo, testnet.Quiet); !errors.Is(err, daemon.ErrDaemonRunning) {
		t.Fatalf("second open: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	a, err = daemon.OpenAccounts(repo, testnet.Quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	users, err := client.NewWithTransport("http://in-process", a.Token, a).Users(ctx)
	if err != nil || len(users) != 1 || users[0].Username != "alice" || users[0].Role != "admin" {
		t.Fatalf("users after reopening: %+v %v", users, err)
	}
	if _, err := client.NewWithTransport("http://in-process", "wrong", a).Users(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
}
