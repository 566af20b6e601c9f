package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/perf"
)

type fakePerfSvc struct {
	fakePerf
	target           peer.AddrInfo
	upload, download uint64
	transport        string
	err              error
}

func (f *fakePerfSvc) Perf(ctx context.Context, target peer.AddrInfo, upload, download uint64, transport string, progress func(perf.Progress)) (perf.Result, error) {
	f.target, f.upload, f.download, f.transport = target, upload, download, transport
	if f.err != nil {
		return perf.Result{}, f.err
	}
	return perf.Result{Upload: upload, Download: download, TimeToFirstByte: 1500 * time.Microsecond,
		UploadDuration: 2 * time.Millisecond, DownloadDuration: 3 * time.Millisecond, Total: 5 * time.Millisecond,
		UploadBitsPerSecond: 1e9, DownloadBitsPerSecond: 2e9, BitsPerSecond: 3e9}, nil
}

func TestPerf(t *testing.T) {
	p := testPeer(t)
	f := &fakePerfSvc{}
	h := newTestAPI(t, func(s *Services) { s.Perf = f }, nil)
	code, body := call(t, h, "POST", "/v1/perf", `{"target":"/ip4/127.0.0.1/tcp/4101/p2p/`+p.String()+`","upload":10,"download":20,"transport":"tcp"}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var res wire.PerfResult
	decodeJSON(t, body, &res)
	if res.UploadBytes != 10 || res.DownloadBytes != 20 || res.TimeToFirstByteMS != 1.5 || res.UploadDurationMS != 2 ||
		res.DownloadDurationMS != 3 || res.TotalMS != 5 || res.UploadBPS != 1e9 || res.DownloadBPS != 2e9 || res.BPS != 3e9 {
		t.Fatalf("result %+v", res)
	}
	if f.target.ID != p || len(f.target.Addrs) != 1 || f.upload != 10 || f.download != 20 || f.transport != "tcp" {
		t.Fatalf("service got %+v %d %d %q", f.target, f.upload, f.download, f.transport)
	}
	if code, body = call(t, h, "POST", "/v1/perf", `{"target":" `+p.String()+` "}`); code != 200 || f.target.ID != p || len(f.target.Addrs) != 0 {
		t.Fatalf("peer ID target: %d %s", code, body)
	}

	code, body = call(t, h, "POST", "/v1/perf", `{"target":"nope"}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid peer ID")
	code, body = call(t, h, "POST", "/v1/perf", `{"target":""}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "empty target")
	code, body = call(t, h, "POST", "/v1/perf", `{"target":"`+p.String()+`","upload":-1}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid JSON body")

	for _, c := range []struct {
		err       error
		status    int
		code, msg string
	}{
		{fmt.Errorf("%w: unknown transport %q", node.ErrInvalidArgument, "pigeon"), 400, wire.CodeInvalidArgument, "unknown transport"},
		{fmt.Errorf("%w: no tcp address known", node.ErrNotFound), 404, wire.CodeNotFound, "no tcp address"},
		{fmt.Errorf("%w: connect: %w", node.ErrUnreachable, context.DeadlineExceeded), 408, wire.CodeTimeout, "deadline"},
		{fmt.Errorf("perf %s: %w", p, perf.ErrWrongLength), 500, wire.CodeInternal, "different number of bytes"},
	} {
		f.err = c.err
		code, body = call(t, h, "POST", "/v1/perf", `{"target":"`+p.String()+`"}`)
		wantError(t, code, body, c.status, c.code, c.msg)
	}
}

func TestPerfEventsConvert(t *testing.T) {
	p := testPeer(t)
	v, ok := eventWire(perf.Served{Peer: p, Transfer: perf.Transfer{Uploaded: 1, Downloaded: 2, Requested: 3},
		Duration: 2500 * time.Microsecond, Error: "x"}).(wire.PerfServedEvent)
	if !ok || v.Peer != p.String() || v.UploadedBytes != 1 || v.DownloadedBytes != 2 || v.RequestedBytes != 3 ||
		v.DurationMS != 2.5 || v.Error != "x" {
		t.Fatalf("perf.served: %#v (%v)", v, ok)
	}
	if _, ok := perfEventWire("other"); ok {
		t.Fatal("converted a foreign payload")
	}
}
