package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/perf"
)

// Perf is what the perf route needs.
type Perf interface {
	Perf(ctx context.Context, req wire.PerfRequest) (perf.Result, error)
}

func (s *Server) postPerf(w http.ResponseWriter, r *http.Request) {
	var req wire.PerfRequest
	if !s.decode(w, r, &req) {
		return
	}
	req.Target = strings.TrimSpace(req.Target)
	res, err := s.svc.Perf.Perf(r.Context(), req)
	s.answer(w, r, res, err)
}
