//go:build interop

package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// perfBytes is how much each perf check uploads and downloads.
const perfBytes = 8 << 20

func testPerf(t *testing.T, m *matrix) {
	ctx := ctxFor(t, 60*time.Second)
	p := startPlexus(t, nil)
	js := startJS(t, "perf", jsConfig{})
	t.Run("js-to-plexus", func(t *testing.T) {
		m.row(t, implNode, "tcp", "/perf/1.0.0 (8 MiB up, 8 MiB down)", "js-dials-plexus")
		var r struct {
			Received                      int
			UploadMs, DownloadMs, TotalMs float64
		}
		js.must(ctx, "perf", map[string]any{"addr": plexusAddr(t, p, "tcp"), "upload": perfBytes, "download": perfBytes}, &r)
		if r.Received != perfBytes {
			t.Fatalf("js received %d bytes from plexus's perf server, asked for %d", r.Received, perfBytes)
		}
		t.Logf("js -> plexus: upload %.0f ms, download %.0f ms", r.UploadMs, r.DownloadMs)
	})
	t.Run("plexus-to-js", func(t *testing.T) {
		m.row(t, implNode, "tcp", "/perf/1.0.0 (8 MiB up, 8 MiB down)", "plexus-dials-js")
		res, err := p.Perf(ctx, js.AddrInfo("tcp"), perfBytes, perfBytes, "tcp", nil)
		if err != nil {
			t.Fatalf("plexus perf against js: %v", err)
		}
		if res.Upload != perfBytes || res.Download != perfBytes {
			t.Fatalf("plexus perf against js: uploaded %d, downloaded %d, want %d each", res.Upload, res.Download, perfBytes)
		}
		t.Logf("plexus -> js: upload %v, download %v", res.UploadDuration, res.DownloadDuration)
	})
}

const appProto = "/app/interop-echo/1.0.0"

func testRequestResponse(t *testing.T, m *matrix) {
	ctx := ctxFor(t, 60*time.Second)
	p := startPlexus(t, nil)
	js := startJS(t, "reqresp", jsConfig{})
	err := p.Messaging().Handle(appProto, func(_ context.Context, from peer.ID, req []byte) ([]byte, error) {
		if string(req) == "fail" {
			return nil, errors.New("asked to fail")
		}
		return append([]byte("plexus answers "+from.String()+": "), req...), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Status  int
		Payload []byte
	}
	t.Run("js-to-plexus", func(t *testing.T) {
		m.row(t, implNode, "tcp", "request/response ("+appProto+", Plexus framing)", "js-dials-plexus")
		req := payload("request")
		var a answer
		js.must(ctx, "request", map[string]any{"addr": plexusAddr(t, p, "tcp"), "protocol": appProto, "data": req}, &a)
		want := append([]byte("plexus answers "+js.ID.String()+": "), req...)
		if a.Status != 0 || !bytes.Equal(a.Payload, want) {
			t.Fatalf("js got status %d payload %q, want status 0 and %q", a.Status, a.Payload, want)
		}
		js.must(ctx, "request", map[string]any{"peer": p.ID().String(), "protocol": appProto, "data": []byte("fail")}, &a)
		if a.Status != 1 || string(a.Payload) != "asked to fail" {
			t.Fatalf("js got status %d payload %q for a failing handler, want status 1 (handler error) and %q", a.Status, a.Payload, "asked to fail")
		}
	})
	t.Run("js-program-to-plexus", func(t *testing.T) {
		m.row(t, implNode, "ws", "request/response from the standalone program interop/js/request.mjs", "js-dials-plexus")
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		args := append(append([]string{}, nodeArgs...), "dist/request.mjs", plexusAddr(t, p, "ws"), appProto, "hello from request.mjs")
		cmd := exec.CommandContext(cctx, "node", args...)
		cmd.Dir = jsDir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node request.mjs: %v\nstderr:\n%s", err, tail(stderr.String(), 4000))
		}
		var a struct {
			Peer    string
			Status  int
			Payload []byte
		}
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatalf("request.mjs printed %q: %v", out, err)
		}
		want := "plexus answers " + a.Peer + ": hello from request.mjs"
		if a.Status != 0 || string(a.Payload) != want {
			t.Fatalf("request.mjs got status %d payload %q, want 0 and %q", a.Status, a.Payload, want)
		}
	})
	t.Run("plexus-to-js", func(t *testing.T) {
		m.row(t, implNode, "tcp", "request/response ("+appProto+", Plexus framing)", "plexus-dials-js")
		js.must(ctx, "handle", map[string]any{"protocol": appProto}, nil)
		if _, err := p.Connect(ctx, js.AddrInfo("tcp")); err != nil {
			t.Fatal(err)
		}
		req := payload("request to js")
		res, err := p.Send(ctx, js.ID, appProto, req)
		if err != nil {
			t.Fatalf("plexus send to js: %v", err)
		}
		want := append([]byte("js "+js.ID.String()+" answers "+p.ID().String()+": "), req...)
		if !bytes.Equal(res.Data, want) {
			t.Fatalf("plexus got %q, want %q", res.Data, want)
		}
	})
}
