package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/plexus-p2p/plexus/api/wire"
)

// Messaging is what the request/response routes need.
type Messaging interface {
	Send(ctx context.Context, peerID, proto string, data []byte) (wire.SendResult, error)
	Handlers() []wire.Handler
	AddHTTPHandler(proto, url string) error
	RemoveHandler(proto string) error
}

func (s *Server) postSend(w http.ResponseWriter, r *http.Request) {
	var req wire.SendRequest
	if !s.decode(w, r, &req) {
		return
	}
	res, err := s.svc.Messaging.Send(r.Context(), strings.TrimSpace(req.Peer), req.Protocol, req.Data)
	s.answer(w, r, res, err)
}

func (s *Server) getHandlers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.Messaging.Handlers())
}

func (s *Server) postHandlers(w http.ResponseWriter, r *http.Request) {
	var req wire.HandlerRequest
	if !s.decode(w, r, &req) {
		return
	}
	if err := s.svc.Messaging.AddHTTPHandler(req.Protocol, req.URL); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, req)
}

func (s *Server) deleteHandlers(w http.ResponseWriter, r *http.Request) {
	proto := r.URL.Query().Get("protocol")
	if proto == "" {
		s.fail(w, r, invalid("missing ?protocol="))
		return
	}
	if err := s.svc.Messaging.RemoveHandler(proto); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.HandlerRequest{Protocol: proto})
}
