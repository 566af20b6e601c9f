package api

import (
	"errors"
	"net/http"

	"github.com/plexus-p2p/plexus/nat"
)

// natNode is what GET /v1/nat needs; nodes without NAT traversal answer 501.
type natNode interface {
	NATStatus() nat.Status
}

// getNAT answers the connectivity doctor's report (nat.Status).
func (s *Server) getNAT(w http.ResponseWriter, r *http.Request) {
	nn, ok := s.node.(natNode)
	if !ok {
		writeError(w, http.StatusNotImplemented, errors.New("this node has no NAT traversal service"))
		return
	}
	WriteJSON(w, http.StatusOK, nn.NATStatus())
}
