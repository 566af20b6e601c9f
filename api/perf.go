package api

import (
	"context"
	"net/http"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/perf"
)

// Perf is what the perf route needs; *node.Node implements it (it connects
// over the requested transport first).
type Perf interface {
	// Perf uploads upload bytes to target and downloads download bytes
	// with the libp2p perf protocol, over transport ("tcp", "quic", "ws";
	// "" for any). progress, when not nil, is told how far it has got.
	Perf(ctx context.Context, target peer.AddrInfo, upload, download uint64, transport string, progress func(perf.Progress)) (perf.Result, error)
}

func (s *Server) postPerf(w http.ResponseWriter, r *http.Request) {
	var req wire.PerfRequest
	if !s.decode(w, r, &req) {
		return
	}
	target, err := parseTarget(req.Target)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if wantsProgress(r) {
		s.streamProgress(w, r, "perf", func(report func(any)) (any, error) {
			res, err := s.svc.Perf.Perf(r.Context(), target, req.Upload, req.Download, req.Transport,
				func(p perf.Progress) { report(perfProgressWire(p)) })
			return perfResultWire(res), err
		})
		return
	}
	res, err := s.svc.Perf.Perf(r.Context(), target, req.Upload, req.Download, req.Transport, nil)
	s.answer(w, r, perfResultWire(res), err)
}

func perfProgressWire(p perf.Progress) wire.PerfProgress {
	v := wire.PerfProgress{Phase: p.Phase, Bytes: p.Bytes, TotalBytes: p.Total, ElapsedMS: ms(p.Elapsed)}
	if p.Elapsed > 0 {
		v.BPS = float64(p.Bytes) * 8 / p.Elapsed.Seconds()
	}
	return v
}

func perfResultWire(r perf.Result) wire.PerfResult {
	return wire.PerfResult{
		UploadBytes:        r.Upload,
		DownloadBytes:      r.Download,
		TimeToFirstByteMS:  ms(r.TimeToFirstByte),
		UploadDurationMS:   ms(r.UploadDuration),
		DownloadDurationMS: ms(r.DownloadDuration),
		TotalMS:            ms(r.Total),
		UploadBPS:          r.UploadBitsPerSecond,
		DownloadBPS:        r.DownloadBitsPerSecond,
		BPS:                r.BitsPerSecond,
	}
}

// perfEventWire converts the perf service's event payloads.
func perfEventWire(data any) (any, bool) {
	if e, ok := data.(perf.Served); ok {
		return wire.PerfServedEvent{Peer: e.Peer.String(), UploadedBytes: e.Uploaded, DownloadedBytes: e.Downloaded,
			RequestedBytes: e.Requested, DurationMS: ms(e.Duration), Error: e.Error}, true
	}
	return nil, false
}
