package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/acl"
	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/node"
)

// ACL is the peer allowlist and denylist: GET /v1/peers/acl, POST
// /v1/peers/allow and /v1/peers/deny, DELETE /v1/peers/acl. *acl.List
// implements it.
type ACL interface {
	Snapshot() acl.Snapshot
	Allow(ctx context.Context, p peer.ID) (acl.Change, error)
	Deny(ctx context.Context, p peer.ID) (acl.Change, error)
	Remove(ctx context.Context, p peer.ID) (acl.Change, error)
}

func (s *Server) getACL(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, aclWire(s.svc.ACL.Snapshot()))
}

func (s *Server) postAllow(w http.ResponseWriter, r *http.Request) {
	s.changeACL(w, r, s.svc.ACL.Allow)
}

func (s *Server) postDeny(w http.ResponseWriter, r *http.Request) {
	s.changeACL(w, r, s.svc.ACL.Deny)
}

func (s *Server) changeACL(w http.ResponseWriter, r *http.Request, change func(context.Context, peer.ID) (acl.Change, error)) {
	var req wire.ACLRequest
	if !s.decode(w, r, &req) {
		return
	}
	p, err := parsePeerID(req.Peer)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ch, err := change(r.Context(), p)
	s.answer(w, r, aclChangeWire(ch), err)
}

func (s *Server) deleteACL(w http.ResponseWriter, r *http.Request) {
	p, err := parsePeerID(r.URL.Query().Get("peer"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ch, err := s.svc.ACL.Remove(r.Context(), p)
	s.answer(w, r, aclChangeWire(ch), err)
}

func aclWire(s acl.Snapshot) wire.ACL {
	out := wire.ACL{AllowlistActive: s.AllowlistActive, Allowed: aclEntriesWire(s.Allowed), Denied: aclEntriesWire(s.Denied),
		Implicit: make([]wire.ACLImplicit, len(s.Implicit)), RefusedInbound: s.RefusedInbound, RefusedOutbound: s.RefusedOutbound}
	for i, im := range s.Implicit {
		out.Implicit[i] = wire.ACLImplicit{PeerID: im.Peer.String(), Reason: im.Reason}
	}
	return out
}

func aclEntriesWire(es []acl.Entry) []wire.ACLEntry {
	out := make([]wire.ACLEntry, len(es))
	for i, e := range es {
		out[i] = wire.ACLEntry{PeerID: e.Peer.String(), Added: e.Added}
	}
	return out
}

func aclChangeWire(c acl.Change) wire.ACLChange {
	out := wire.ACLChange{PeerID: idString(c.Peer), List: c.List, Previous: c.Previous, Disconnected: make([]string, len(c.Disconnected))}
	for i, p := range c.Disconnected {
		out.Disconnected[i] = p.String()
	}
	return out
}

// privateWire is the wire form of the node's private network.
func privateWire(p node.PrivateNetwork) wire.PrivateNetwork {
	return wire.PrivateNetwork{Enabled: p.Enabled, Fingerprint: p.Fingerprint, DisabledTransports: append([]string{}, p.DisabledTransports...)}
}

// aclEventWire converts the payloads of package acl's events.
func aclEventWire(data any) (any, bool) {
	switch d := data.(type) {
	case acl.Change:
		return aclChangeWire(d), true
	case acl.Refusal:
		return wire.ACLRefusedEvent{PeerID: idString(d.Peer), Direction: strings.ToLower(d.Direction.String()), Addr: d.Addr, Reason: d.Reason}, true
	}
	return nil, false
}
