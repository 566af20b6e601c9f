package api

import (
	"net/http"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/tunnel"
)

// Tunnels is what the tunnel routes need; *tunnel.Service implements it.
// The service checks protocols and addresses; the API parses peer IDs.
type Tunnels interface {
	Expose(proto protocol.ID, target string, allow []peer.ID) (tunnel.Info, error)
	Forward(listen string, p peer.ID, proto protocol.ID) (tunnel.Info, error)
	List() []tunnel.Info
	CloseTunnel(id string) (tunnel.Info, error)
}

func (s *Server) getTunnels(w http.ResponseWriter, r *http.Request) {
	ts := s.svc.Tunnels.List()
	out := make([]wire.Tunnel, len(ts))
	for i, t := range ts {
		out[i] = tunnelWire(t)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postTunnelExpose(w http.ResponseWriter, r *http.Request) {
	var req wire.ExposeRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.Protocol == "" || req.Target == "" {
		s.fail(w, r, invalid("expose needs a protocol (such as /x/ssh) and a target (such as 127.0.0.1:22)"))
		return
	}
	allow := make([]peer.ID, 0, len(req.Allow))
	for _, a := range req.Allow {
		p, err := parsePeerID(a)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		allow = append(allow, p)
	}
	info, err := s.svc.Tunnels.Expose(protocol.ID(req.Protocol), req.Target, allow)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tunnelWire(info))
}

func (s *Server) postTunnelForward(w http.ResponseWriter, r *http.Request) {
	var req wire.ForwardRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.Protocol == "" || req.Listen == "" {
		s.fail(w, r, invalid("forward needs a listen address (such as 127.0.0.1:2222), a peer and a protocol (such as /x/ssh)"))
		return
	}
	p, err := parsePeerID(req.Peer)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	info, err := s.svc.Tunnels.Forward(req.Listen, p, protocol.ID(req.Protocol))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tunnelWire(info))
}

func (s *Server) deleteTunnel(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id == "" {
		s.fail(w, r, invalid("missing id: want a tunnel ID from GET /v1/tunnels"))
		return
	}
	info, err := s.svc.Tunnels.CloseTunnel(id)
	s.answer(w, r, tunnelWire(info), err)
}

func tunnelWire(t tunnel.Info) wire.Tunnel {
	out := wire.Tunnel{
		ID:           t.ID,
		Kind:         string(t.Kind),
		Protocol:     string(t.Protocol),
		Target:       t.Target,
		DefaultAllow: t.DefaultAllow,
		Listen:       t.Listen,
		Created:      t.Created,
		Conns:        t.Conns,
		MaxConns:     t.MaxConns,
		Accepted:     t.Accepted,
		Failed:       t.Failed,
		Refused:      t.Refused,
		BytesIn:      t.BytesIn,
		BytesOut:     t.BytesOut,
		LastError:    t.LastError,
	}
	if t.Peer != "" {
		out.Peer = t.Peer.String()
	}
	for _, p := range t.Allow {
		out.Allow = append(out.Allow, p.String())
	}
	if !t.LastErrorAt.IsZero() {
		at := t.LastErrorAt
		out.LastErrorAt = &at
	}
	return out
}

// tunnelEventWire converts the tunnel service's event payloads.
func tunnelEventWire(data any) (any, bool) {
	switch e := data.(type) {
	case tunnel.Info:
		return tunnelWire(e), true
	case tunnel.ConnClosed:
		return wire.TunnelConnClosedEvent{Tunnel: e.Tunnel, Kind: string(e.Kind), Protocol: string(e.Protocol),
			Peer: e.Peer.String(), BytesIn: e.BytesIn, BytesOut: e.BytesOut, DurationMS: ms(e.Duration),
			Relayed: e.Relayed, Error: e.Error}, true
	case tunnel.Refused:
		return wire.TunnelRefusedEvent{Tunnel: e.Tunnel, Kind: string(e.Kind), Protocol: string(e.Protocol),
			Peer: e.Peer.String(), Reason: e.Reason}, true
	}
	return nil, false
}
