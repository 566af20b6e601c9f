package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/perf"
)

// perfNode is what the perf route needs.
type perfNode interface {
	Perf(ctx context.Context, req wire.PerfRequest) (perf.Result, error)
}

func (s *Server) perfRoutes(n perfNode) {
	s.handle("POST /v1/perf", func(w http.ResponseWriter, r *http.Request) {
		var req wire.PerfRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		req.Target = strings.TrimSpace(req.Target)
		res, err := n.Perf(r.Context(), req)
		s.answer(w, r, res, err)
	})
}
