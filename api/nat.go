package api

import (
	"net/http"

	"github.com/plexus-p2p/plexus/nat"
)

// NAT is what GET /v1/nat needs: the connectivity doctor.
type NAT interface {
	NATStatus() nat.Status
}

// getNAT answers the connectivity doctor's report.
func (s *Server) getNAT(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.NAT.NATStatus())
}
