package api

import (
	"context"
	"net/http"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/discovery"
)

// Discovery is what the discovery routes need: known peers, bootstrap
// peers, rendezvous. *discovery.Service implements it.
type Discovery interface {
	KnownPeers() []discovery.KnownPeer
	BootstrapStatus() []discovery.BootstrapStatus
	JoinRendezvous(ctx context.Context, topic string) error
	LeaveRendezvous(topic string) error
	RendezvousPeers(ctx context.Context, topic string) ([]peer.AddrInfo, error)
	RendezvousTopics() []string
}

func (s *Server) getKnownPeers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, knownPeersWire(s.svc.Discovery.KnownPeers()))
}

func (s *Server) getBootstrap(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, bootstrapWire(s.svc.Discovery.BootstrapStatus()))
}

func (s *Server) postDiscoverJoin(w http.ResponseWriter, r *http.Request) {
	var req wire.TopicRequest
	if !s.decode(w, r, &req) {
		return
	}
	s.answer(w, r, req, s.svc.Discovery.JoinRendezvous(r.Context(), req.Topic))
}

func (s *Server) postDiscoverLeave(w http.ResponseWriter, r *http.Request) {
	var req wire.TopicRequest
	if !s.decode(w, r, &req) {
		return
	}
	s.answer(w, r, req, s.svc.Discovery.LeaveRendezvous(req.Topic))
}

func (s *Server) getDiscoverPeers(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	ais, err := s.svc.Discovery.RendezvousPeers(r.Context(), topic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.RendezvousPeers{Topic: topic, Peers: rendezvousPeersWire(ais)})
}

func (s *Server) getDiscoverTopics(w http.ResponseWriter, r *http.Request) {
	topics := s.svc.Discovery.RendezvousTopics()
	if topics == nil {
		topics = []string{}
	}
	writeJSON(w, http.StatusOK, topics)
}

func knownPeersWire(kps []discovery.KnownPeer) []wire.KnownPeer {
	out := make([]wire.KnownPeer, len(kps))
	for i, k := range kps {
		srcs := make([]string, len(k.Sources))
		for j, src := range k.Sources {
			srcs[j] = string(src)
		}
		out[i] = wire.KnownPeer{
			PeerID: k.ID.String(), Addrs: addrStrings(k.Addrs), Sources: srcs,
			FirstSeen: k.FirstSeen.UTC(), LastSeen: k.LastSeen.UTC(), Connected: k.Connected,
		}
	}
	return out
}

func bootstrapWire(st []discovery.BootstrapStatus) []wire.BootstrapStatus {
	out := make([]wire.BootstrapStatus, len(st))
	for i, b := range st {
		out[i] = wire.BootstrapStatus{
			Peer: b.Peer.String(), Addrs: addrStrings(b.Addrs), Connected: b.Connected,
			Attempts: b.Attempts, LastError: b.LastError,
			LastAttempt: b.LastAttempt.UTC(), LastConnected: b.LastConnected.UTC(), NextRetry: b.NextRetry.UTC(),
		}
	}
	return out
}

// rendezvousPeersWire converts peers with their addresses (rendezvous peers).
func rendezvousPeersWire(ais []peer.AddrInfo) []wire.Provider {
	out := make([]wire.Provider, len(ais))
	for i, ai := range ais {
		out[i] = wire.Provider{PeerID: ai.ID.String(), Addrs: addrStrings(ai.Addrs)}
	}
	return out
}

// discoveryEventWire converts the event payloads of package discovery.
func discoveryEventWire(data any) (any, bool) {
	switch e := data.(type) {
	case discovery.PeerDiscovered:
		return wire.PeerDiscoveredEvent{Peer: e.Peer.String(), Source: string(e.Source), Addrs: addrStrings(e.Addrs)}, true
	case discovery.BootstrapFailed:
		return wire.BootstrapFailedEvent{Peer: e.Peer.String(), Error: e.Error, Attempts: e.Attempts, NextRetry: e.NextRetry.UTC()}, true
	case discovery.RendezvousTopic:
		return wire.RendezvousEvent{Topic: e.Topic}, true
	}
	return nil, false
}
