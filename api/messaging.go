package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/plexus-p2p/plexus/api/wire"
)

// messagingNode is what the request/response routes need.
type messagingNode interface {
	Send(ctx context.Context, peerID, proto string, data []byte) (wire.SendResult, error)
	Handlers() []wire.Handler
	AddHTTPHandler(proto, url string) error
	RemoveHandler(proto string) error
}

func (s *Server) messagingRoutes(m messagingNode) {
	s.handle("POST /v1/send", func(w http.ResponseWriter, r *http.Request) {
		var req wire.SendRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		res, err := m.Send(r.Context(), strings.TrimSpace(req.Peer), req.Protocol, req.Data)
		s.answer(w, r, res, err)
	})
	s.handle("GET /v1/handlers", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, m.Handlers())
	})
	s.handle("POST /v1/handlers", func(w http.ResponseWriter, r *http.Request) {
		var req wire.HandlerRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		if err := m.AddHTTPHandler(req.Protocol, req.URL); err != nil {
			s.WriteError(w, r, err)
			return
		}
		WriteJSON(w, http.StatusCreated, req)
	})
	s.handle("DELETE /v1/handlers", func(w http.ResponseWriter, r *http.Request) {
		proto := r.URL.Query().Get("protocol")
		if proto == "" {
			writeError(w, http.StatusBadRequest, fmt.Errorf("missing ?protocol="))
			return
		}
		if err := m.RemoveHandler(proto); err != nil {
			s.WriteError(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"protocol": proto})
	})
}
