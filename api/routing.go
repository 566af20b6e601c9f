package api

import (
	"context"
	"net/http"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/discovery"
)

// Routing is what the Kademlia routing routes need.
type Routing interface {
	RoutingTable() []wire.RoutingEntry
	FindPeer(ctx context.Context, peerID string) (wire.FoundPeer, error)
	ClosestPeers(ctx context.Context, key string) (wire.ClosestPeers, error)
	Explore(ctx context.Context) (discovery.Report, error)
}

func (s *Server) getDHTTable(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.Routing.RoutingTable())
}

func (s *Server) getDHTFindPeer(w http.ResponseWriter, r *http.Request) {
	res, err := s.svc.Routing.FindPeer(r.Context(), r.URL.Query().Get("peer"))
	s.answer(w, r, res, err)
}

func (s *Server) getDHTClosest(w http.ResponseWriter, r *http.Request) {
	res, err := s.svc.Routing.ClosestPeers(r.Context(), r.URL.Query().Get("key"))
	s.answer(w, r, res, err)
}

func (s *Server) getExplore(w http.ResponseWriter, r *http.Request) {
	res, err := s.svc.Routing.Explore(r.Context())
	s.answer(w, r, res, err)
}
