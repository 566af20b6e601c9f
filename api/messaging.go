package api

import (
	"context"
	"net/http"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/messaging"
	"github.com/plexus-p2p/plexus/node"
)

// Messaging is what the request/response routes need: the node (Send
// connects to the peer first) and its messaging service.
type Messaging interface {
	Send(ctx context.Context, p peer.ID, proto protocol.ID, data []byte) (node.SendResult, error)
	Handlers() []messaging.HandlerInfo
	AddHTTPHandler(proto protocol.ID, url string) error
	RemoveHandler(proto protocol.ID) error
}

// protocolID reads a protocol ID from a request; the messaging service
// checks the rest (prefix, characters).
func protocolID(s string) (protocol.ID, error) {
	if s == "" {
		return "", invalid("missing protocol: want an application protocol ID such as /app/echo/1.0.0")
	}
	return protocol.ID(s), nil
}

func (s *Server) postSend(w http.ResponseWriter, r *http.Request) {
	var req wire.SendRequest
	if !s.decode(w, r, &req) {
		return
	}
	p, err := parsePeerID(req.Peer)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	proto, err := protocolID(req.Protocol)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.svc.Messaging.Send(r.Context(), p, proto, req.Data)
	s.answer(w, r, sendResultWire(res), err)
}

func sendResultWire(in node.SendResult) wire.SendResult {
	return wire.SendResult{
		PeerID:     in.Peer.String(),
		Protocol:   string(in.Protocol),
		Data:       in.Data,
		DurationMS: ms(in.Duration),
	}
}

func (s *Server) getHandlers(w http.ResponseWriter, r *http.Request) {
	hs := s.svc.Messaging.Handlers()
	out := make([]wire.Handler, len(hs))
	for i, h := range hs {
		out[i] = wire.Handler{
			Protocol:   string(h.Protocol),
			Kind:       h.Kind,
			URL:        h.URL,
			Registered: h.Registered,
			Handled:    h.Handled,
			Failed:     h.Failed,
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postHandlers(w http.ResponseWriter, r *http.Request) {
	var req wire.HandlerRequest
	if !s.decode(w, r, &req) {
		return
	}
	proto, err := protocolID(req.Protocol)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.svc.Messaging.AddHTTPHandler(proto, req.URL); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, req)
}

func (s *Server) deleteHandlers(w http.ResponseWriter, r *http.Request) {
	proto, err := protocolID(r.URL.Query().Get("protocol"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.svc.Messaging.RemoveHandler(proto)
	s.answer(w, r, wire.HandlerRequest{Protocol: string(proto)}, err)
}

// messagingEventWire converts the messaging package's event payloads.
func messagingEventWire(data any) (any, bool) {
	switch e := data.(type) {
	case messaging.RequestHandled:
		return wire.RequestHandledEvent{Protocol: string(e.Protocol), Peer: e.Peer.String(),
			BytesIn: e.BytesIn, BytesOut: e.BytesOut, DurationMS: ms(e.Duration)}, true
	case messaging.RequestFailed:
		return wire.RequestFailedEvent{Protocol: string(e.Protocol), Peer: e.Peer.String(),
			Error: e.Error, Direction: e.Direction}, true
	}
	return nil, false
}
