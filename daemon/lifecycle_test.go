package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/node"
)

// Close ends the API's event streams cleanly, node.stopping last, before it
// returns; the api file exists from the end of Start to the end of Close.
func TestCloseEndsEventStreams(t *testing.T) {
	repo := config.Repo{Path: t.TempDir()}
	if _, err := repo.Init(config.InitOptions{Profile: "local"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := repo.Config()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(t.Context(), Options{Repo: repo, Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if addr, err := repo.APIAddr(); err != nil || addr != d.APIAddr {
		t.Fatalf("api file after Start: %q, %v; want %s", addr, err, d.APIAddr)
	}
	token, err := repo.Token()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	st, err := client.New(d.APIAddr, token).Events(ctx, "nothing.")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	ev, err := st.NextEvent()
	if err != nil || ev.Type != node.EventStopping {
		t.Fatalf("event at Close: %+v, %v; want node.stopping", ev, err)
	}
	if ev, err := st.NextEvent(); !errors.Is(err, io.EOF) {
		t.Fatalf("after node.stopping: %+v, %v; want the end of the stream", ev, err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(repo.File(config.APIAddrFile)); !os.IsNotExist(err) {
		t.Fatalf("api file after Close: %v", err)
	}
}
