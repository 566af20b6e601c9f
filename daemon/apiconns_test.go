package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// Issue 20 row 4 against a daemon: with api.max_connections = 16, a flood
// of 200 silent connections is closed down to the cap while the CLI's
// requests and an event stream opened before the flood keep working.
func TestAPIConnectionFlood(t *testing.T) {
	const maxConns, attackers = 16, 200
	repo := config.Repo{Path: t.TempDir()}
	if _, err := repo.Init(config.InitOptions{Profile: "local"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := repo.Config()
	if err != nil {
		t.Fatal(err)
	}
	// The header timeout is long: the connections are closed by the cap.
	for k, v := range map[string]string{"api.max_connections": "16", "api.read_header_timeout": "10m"} {
		if err := config.Set(&cfg, k, v); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Start(t.Context(), Options{Repo: repo, Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	token, err := repo.Token()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := client.New(d.APIAddr, token).Events(ctx, "test.")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	var closed atomic.Int64
	var readers sync.WaitGroup
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	}()
	for i := range attackers {
		c, err := net.Dial("tcp", d.APIAddr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		readers.Go(func() {
			_, err := c.Read(make([]byte, 1))
			var op *net.OpError
			if errors.Is(err, io.EOF) || errors.As(err, &op) && !op.Timeout() {
				closed.Add(1)
			}
		})
	}
	testnet.Eventually(t, 20*time.Second, func() bool { return closed.Load() >= attackers-maxConns },
		"%s", testnet.Lazy(func() string {
			return fmt.Sprintf("%d of %d silent connections closed by the daemon (api.max_connections %d)", closed.Load(), attackers, maxConns)
		}))

	if _, err := client.New(d.APIAddr, token).ID(ctx); err != nil {
		t.Fatalf("a CLI request during the flood: %v", err)
	}
	d.Node.Events().Publish("test.flood", nil)
	if ev, err := st.NextEvent(); err != nil || ev.Type != "test.flood" {
		t.Fatalf("the event stream opened before the flood: %+v, %v", ev, err)
	}
}
