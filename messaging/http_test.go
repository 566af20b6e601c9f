package messaging_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
)

func TestHandleHTTP(t *testing.T) {
	type seen struct {
		peer, proto, ctype, body string
	}
	requests := make(chan seen, 10)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		requests <- seen{r.Header.Get(messaging.HeaderPeer), r.Header.Get(messaging.HeaderProtocol), r.Header.Get("Content-Type"), string(body)}
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write(append([]byte("cooked "), body...))
		case "/fail":
			http.Error(w, "oven broken "+strings.Repeat("!", 1000), http.StatusInternalServerError)
		case "/hang":
			<-r.Context().Done()
		}
	}))
	t.Cleanup(backend.Close)

	hs := testnet.Mocknet(t, 2)
	server := newService(t, hs[0], messaging.WithHandlerTimeout(300*time.Millisecond))
	client := newService(t, hs[1])
	for _, path := range []string{"ok", "fail", "hang"} {
		if err := server.HandleHTTP(protoID("/app/"+path), backend.URL+"/"+path); err != nil {
			t.Fatalf("HandleHTTP: %v", err)
		}
	}

	t.Run("ok", func(t *testing.T) {
		resp, err := client.Send(t.Context(), hs[0].ID(), "/app/ok", []byte("eggs"))
		if err != nil || string(resp) != "cooked eggs" {
			t.Fatalf("response %q, %v", resp, err)
		}
		got := <-requests
		want := seen{hs[1].ID().String(), "/app/ok", "application/octet-stream", "eggs"}
		if got != want {
			t.Fatalf("backend saw %+v, want %+v", got, want)
		}
	})
	t.Run("non-2xx", func(t *testing.T) {
		_, err := client.Send(t.Context(), hs[0].ID(), "/app/fail", []byte("eggs"))
		var he *messaging.HandlerError
		if !errors.As(err, &he) || !strings.Contains(he.Message, "500") || !strings.Contains(he.Message, "oven broken") {
			t.Fatalf("err = %v, want HandlerError with status and body", err)
		}
		if len(he.Message) > 400 {
			t.Fatalf("message of %d bytes is not truncated: %q", len(he.Message), he.Message)
		}
		<-requests
	})
	t.Run("hang", func(t *testing.T) {
		_, err := client.Send(t.Context(), hs[0].ID(), "/app/hang", []byte("eggs"))
		var he *messaging.HandlerError
		if !errors.As(err, &he) || !strings.Contains(he.Message, "did not answer") {
			t.Fatalf("err = %v, want HandlerError saying the handler did not answer", err)
		}
		<-requests
	})
	t.Run("dead url", func(t *testing.T) {
		// A loopback port that was just listening and is now closed.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + l.Addr().String() + "/gone"
		_ = l.Close()
		if err := server.HandleHTTP("/app/dead", dead); err != nil {
			t.Fatalf("HandleHTTP: %v", err)
		}
		_, err = client.Send(t.Context(), hs[0].ID(), "/app/dead", []byte("eggs"))
		var he *messaging.HandlerError
		if !errors.As(err, &he) || !strings.Contains(he.Message, "connection refused") {
			t.Fatalf("err = %v, want HandlerError saying connection refused", err)
		}
		if strings.Contains(he.Message, l.Addr().String()) {
			t.Fatalf("message %q reveals the local url to the remote peer", he.Message)
		}
	})

	infos := server.Handlers()
	if len(infos) != 4 {
		t.Fatalf("handlers %+v, want 4", infos)
	}
	for _, hi := range infos {
		if hi.Kind != messaging.KindHTTP || !strings.HasPrefix(hi.URL, "http://127.0.0.1:") {
			t.Errorf("handler %+v, want kind http with its url", hi)
		}
	}
	waitCounters(t, server, "/app/ok", 1, 0)
	waitCounters(t, server, "/app/fail", 0, 1)
	if err := server.Unhandle("/app/ok"); err != nil {
		t.Fatalf("Unhandle: %v", err)
	}
	if _, err := client.Send(t.Context(), hs[0].ID(), "/app/ok", nil); !errors.Is(err, messaging.ErrProtocolNotSupported) {
		t.Fatalf("after Unhandle: %v, want ErrProtocolNotSupported", err)
	}
}
