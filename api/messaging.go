package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/messaging"
	"github.com/plexus-p2p/plexus/node"
)

// messagingNode is what the request/response routes need.
type messagingNode interface {
	Send(ctx context.Context, p peer.ID, proto protocol.ID, data []byte) (node.SendResult, error)
	Handlers() []messaging.HandlerInfo
	AddHTTPHandler(proto protocol.ID, url string) error
	RemoveHandler(proto protocol.ID) error
}

func (s *Server) messagingRoutes(m messagingNode) {
	s.handle("POST /v1/send", func(w http.ResponseWriter, r *http.Request) {
		var req wire.SendRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		p, err := node.ParsePeer(strings.TrimSpace(req.Peer))
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		res, err := m.Send(r.Context(), p, protocol.ID(req.Protocol), req.Data)
		s.answer(w, r, wire.SendResult{PeerID: res.Peer.String(), Protocol: string(res.Protocol), Data: res.Data,
			DurationMS: float64(res.Duration.Microseconds()) / 1000}, err)
	})
	s.handle("GET /v1/handlers", func(w http.ResponseWriter, r *http.Request) {
		hs := m.Handlers()
		out := make([]wire.Handler, len(hs))
		for i, h := range hs {
			out[i] = wire.Handler{Protocol: string(h.Protocol), Kind: h.Kind, URL: h.URL, Registered: h.Registered,
				Handled: h.Handled, Failed: h.Failed}
		}
		WriteJSON(w, http.StatusOK, out)
	})
	s.handle("POST /v1/handlers", func(w http.ResponseWriter, r *http.Request) {
		var req wire.HandlerRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		if err := m.AddHTTPHandler(protocol.ID(req.Protocol), req.URL); err != nil {
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
		if err := m.RemoveHandler(protocol.ID(proto)); err != nil {
			s.WriteError(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"protocol": proto})
	})
}
