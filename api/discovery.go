package api

import (
	"context"
	"net/http"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/discovery"
)

// discoveryNode is what the discovery and routing routes need.
type discoveryNode interface {
	Discovery() *discovery.Service
	RoutingTable() []wire.RoutingEntry
	FindPeer(ctx context.Context, peerID string) (wire.FoundPeer, error)
	ClosestPeers(ctx context.Context, key string) (wire.ClosestPeers, error)
	Explore(ctx context.Context) (discovery.Report, error)
	RendezvousPeers(ctx context.Context, topic string) (wire.RendezvousPeers, error)
}

func (s *Server) discoveryRoutes(n discoveryNode) {
	d := n.Discovery()
	s.handle("GET /v1/peers/known", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, d.KnownPeers())
	})
	s.handle("GET /v1/bootstrap", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, d.BootstrapStatus())
	})
	s.handle("GET /v1/dht/table", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, n.RoutingTable())
	})
	s.handle("GET /v1/dht/findpeer", func(w http.ResponseWriter, r *http.Request) {
		res, err := n.FindPeer(r.Context(), r.URL.Query().Get("peer"))
		s.answer(w, r, res, err)
	})
	s.handle("GET /v1/dht/closest", func(w http.ResponseWriter, r *http.Request) {
		res, err := n.ClosestPeers(r.Context(), r.URL.Query().Get("key"))
		s.answer(w, r, res, err)
	})
	s.handle("GET /v1/explore", func(w http.ResponseWriter, r *http.Request) {
		res, err := n.Explore(r.Context())
		s.answer(w, r, res, err)
	})
	s.handle("POST /v1/discover/join", func(w http.ResponseWriter, r *http.Request) {
		var req wire.TopicRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		s.answer(w, r, req, d.Rendezvous().Join(r.Context(), req.Topic))
	})
	s.handle("POST /v1/discover/leave", func(w http.ResponseWriter, r *http.Request) {
		var req wire.TopicRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		s.answer(w, r, req, d.Rendezvous().Leave(req.Topic))
	})
	s.handle("GET /v1/discover/peers", func(w http.ResponseWriter, r *http.Request) {
		res, err := n.RendezvousPeers(r.Context(), r.URL.Query().Get("topic"))
		s.answer(w, r, res, err)
	})
	s.handle("GET /v1/discover/topics", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, d.Rendezvous().Topics())
	})
}
