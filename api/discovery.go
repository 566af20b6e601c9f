package api

import (
	"context"
	"net/http"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/discovery"
)

// Discovery is what the discovery routes need.
type Discovery interface {
	Discovery() *discovery.Service
	RendezvousPeers(ctx context.Context, topic string) (wire.RendezvousPeers, error)
}

func (s *Server) getKnownPeers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.Discovery.Discovery().KnownPeers())
}

func (s *Server) getBootstrap(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.Discovery.Discovery().BootstrapStatus())
}

func (s *Server) postDiscoverJoin(w http.ResponseWriter, r *http.Request) {
	var req wire.TopicRequest
	if !s.decode(w, r, &req) {
		return
	}
	s.answer(w, r, req, s.svc.Discovery.Discovery().Rendezvous().Join(r.Context(), req.Topic))
}

func (s *Server) postDiscoverLeave(w http.ResponseWriter, r *http.Request) {
	var req wire.TopicRequest
	if !s.decode(w, r, &req) {
		return
	}
	s.answer(w, r, req, s.svc.Discovery.Discovery().Rendezvous().Leave(req.Topic))
}

func (s *Server) getDiscoverPeers(w http.ResponseWriter, r *http.Request) {
	res, err := s.svc.Discovery.RendezvousPeers(r.Context(), r.URL.Query().Get("topic"))
	s.answer(w, r, res, err)
}

func (s *Server) getDiscoverTopics(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.Discovery.Discovery().Rendezvous().Topics())
}
