package api

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/perf"
	"github.com/plexus-p2p/plexus/routing"
)

// progressPerf reports two upload steps and the download, then answers.
type progressPerf struct {
	fakePerf
	err         error
	gotProgress bool
}

func (f *progressPerf) Perf(ctx context.Context, target peer.AddrInfo, upload, download uint64, transport string, progress func(perf.Progress)) (perf.Result, error) {
	f.gotProgress = progress != nil
	if progress != nil {
		progress(perf.Progress{Phase: perf.PhaseUpload, Bytes: upload / 2, Total: upload, Elapsed: 500 * time.Millisecond})
		progress(perf.Progress{Phase: perf.PhaseUpload, Bytes: upload, Total: upload, Elapsed: time.Second})
		progress(perf.Progress{Phase: perf.PhaseDownload, Bytes: download, Total: download, Elapsed: 2 * time.Second})
	}
	if f.err != nil {
		return perf.Result{}, f.err
	}
	return perf.Result{Upload: upload, Download: download, Total: 3 * time.Second}, nil
}

// Asked with "Accept: text/event-stream", POST /v1/perf streams progress
// events, then the result or the error; without it, it answers JSON (and
// asks the node for no progress). Bad input is a 400 before any stream.
func TestPerfProgressStream(t *testing.T) {
	f := &progressPerf{}
	srv := httptest.NewServer(newTestAPI(t, func(s *Services) { s.Perf = f }, nil))
	t.Cleanup(srv.Close)
	c := client.New(srv.URL, testToken)
	target := testPeer(t).String()

	var got []wire.PerfProgress
	res, err := c.PerfProgress(t.Context(), wire.PerfRequest{Target: target, Upload: 1000, Download: 4000},
		func(p wire.PerfProgress) { got = append(got, p) })
	if err != nil || res.UploadBytes != 1000 || res.DownloadBytes != 4000 || res.TotalMS != 3000 {
		t.Fatalf("result %+v, %v", res, err)
	}
	want := []wire.PerfProgress{
		{Phase: "upload", Bytes: 500, TotalBytes: 1000, ElapsedMS: 500, BPS: 8000},
		{Phase: "upload", Bytes: 1000, TotalBytes: 1000, ElapsedMS: 1000, BPS: 8000},
		{Phase: "download", Bytes: 4000, TotalBytes: 4000, ElapsedMS: 2000, BPS: 16000},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("progress %+v, want %+v", got, want)
	}

	if _, err := c.Perf(t.Context(), wire.PerfRequest{Target: target, Upload: 1}); err != nil || f.gotProgress {
		t.Fatalf("plain perf: %v; progress function passed: %v", err, f.gotProgress)
	}

	f.err = fmt.Errorf("%w: no tcp address known", node.ErrNotFound)
	got = nil
	_, err = c.PerfProgress(t.Context(), wire.PerfRequest{Target: target, Upload: 1, Download: 1}, func(p wire.PerfProgress) { got = append(got, p) })
	if !errors.Is(err, client.ErrNotFound) || client.StatusOf(err) != 404 || len(got) != 3 {
		t.Fatalf("failing perf: %v (status %d) after %d progress events; want not found, 404, 3", err, client.StatusOf(err), len(got))
	}

	_, err = c.PerfProgress(t.Context(), wire.PerfRequest{Target: "nope"}, func(wire.PerfProgress) { t.Error("progress for bad input") })
	if !errors.Is(err, client.ErrInvalidArgument) || client.StatusOf(err) != 400 {
		t.Fatalf("bad target: %v (status %d), want a 400", err, client.StatusOf(err))
	}
}

// GET /v1/explore streams the crawl's progress the same way.
func TestExploreProgressStream(t *testing.T) {
	self := testPeer(t)
	f := &routingFake{explore: func(ctx context.Context, opts routing.ExploreOptions) (routing.Report, error) {
		if opts.Progress == nil {
			return routing.Report{Self: self, Total: 1}, nil
		}
		opts.Progress(routing.ExploreProgress{Phase: routing.PhaseCrawl, Found: 7, Dialable: 5, Failed: 1, Elapsed: time.Second})
		opts.Progress(routing.ExploreProgress{Phase: routing.PhaseIdentify, Found: 9, Dialable: 7, Failed: 1, Identify: 2, Elapsed: 2 * time.Second})
		return routing.Report{Self: self, Total: 9, Dialable: 8, Undialable: 1, Complete: true}, nil
	}}
	srv := httptest.NewServer(newTestAPI(t, func(s *Services) { s.Routing = f }, nil))
	t.Cleanup(srv.Close)
	c := client.New(srv.URL, testToken)
	var got []wire.ExploreProgress
	rep, err := c.ExploreProgress(t.Context(), func(p wire.ExploreProgress) { got = append(got, p) })
	if err != nil || rep.Total != 9 || !rep.Complete || rep.Self != self.String() {
		t.Fatalf("report %+v, %v", rep, err)
	}
	want := []wire.ExploreProgress{
		{Phase: "crawl", Found: 7, Dialable: 5, Failed: 1, ElapsedMS: 1000},
		{Phase: "identify", Found: 9, Dialable: 7, Failed: 1, Identify: 2, ElapsedMS: 2000},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("progress %+v, want %+v", got, want)
	}
	if rep, err := c.Explore(t.Context()); err != nil || rep.Total != 1 {
		t.Fatalf("plain explore: %+v, %v", rep, err)
	}
}
