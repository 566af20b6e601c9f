package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/node"
)

// Node is what the core routes need: the node itself.
type Node interface {
	Info() node.Info
	Peers() []node.PeerInfo
	Stats() node.Stats
	Connect(ctx context.Context, ai peer.AddrInfo) (ma.Multiaddr, error)
	Disconnect(p peer.ID) error
	Ping(ctx context.Context, target peer.AddrInfo, count int) ([]time.Duration, error)
	Events() *events.Bus
}

// defaultPingCount is the number of pings when the request names none.
const defaultPingCount = 3

func (s *Server) getID(w http.ResponseWriter, r *http.Request) {
	id := idWire(s.svc.Node.Info())
	id.Profile = s.opts.Profile
	writeJSON(w, http.StatusOK, id)
}

func idWire(in node.Info) wire.ID {
	protos := make([]string, len(in.Protocols))
	for i, p := range in.Protocols {
		protos[i] = string(p)
	}
	return wire.ID{
		PeerID:         in.ID.String(),
		Addrs:          addrStrings(in.Addrs),
		ListenAddrs:    addrStrings(in.ListenAddrs),
		Protocols:      protos,
		AgentVersion:   in.AgentVersion,
		DHTMode:        in.DHTMode,
		Reachability:   reachabilityName(in.Reachability),
		Bootstrap:      append([]string{}, in.Bootstrap...),
		BootstrapNode:  len(in.Bootstrap) == 0,
		PrivateNetwork: privateWire(in.Private),
	}
}

func (s *Server) getPeers(w http.ResponseWriter, r *http.Request) {
	peers := s.svc.Node.Peers()
	out := make([]wire.Peer, len(peers))
	for i, p := range peers {
		out[i] = wire.Peer{
			PeerID:       p.ID.String(),
			Addr:         p.Addr.String(),
			Direction:    strings.ToLower(p.Direction.String()),
			Transport:    p.Transport,
			Security:     p.Security,
			Muxer:        p.Muxer,
			LatencyMS:    ms(p.Latency),
			OpenedAt:     p.Opened,
			Streams:      p.Streams,
			AgentVersion: p.AgentVersion,
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	st := s.svc.Node.Stats()
	writeJSON(w, http.StatusOK, wire.Stats{StartedAt: st.Started.UTC(), UptimeMS: ms(st.Uptime), Peers: st.Peers,
		Connections: st.Connections, Streams: st.Streams, BytesIn: st.BytesIn, BytesOut: st.BytesOut,
		RateIn: st.RateIn, RateOut: st.RateOut})
}

func (s *Server) postConnect(w http.ResponseWriter, r *http.Request) {
	var req wire.ConnectRequest
	if !s.decode(w, r, &req) {
		return
	}
	ai, err := parsePeerAddr(req.Addr)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	addr, err := s.svc.Node.Connect(r.Context(), ai)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.ConnectResult{PeerID: ai.ID.String(), Addr: addr.String()})
}

func (s *Server) postDisconnect(w http.ResponseWriter, r *http.Request) {
	var req wire.DisconnectRequest
	if !s.decode(w, r, &req) {
		return
	}
	p, err := parsePeerID(req.Peer)
	if err == nil {
		err = s.svc.Node.Disconnect(p)
	}
	s.answer(w, r, wire.DisconnectResult{PeerID: p.String()}, err)
}

func (s *Server) postPing(w http.ResponseWriter, r *http.Request) {
	var req wire.PingRequest
	if !s.decode(w, r, &req) {
		return
	}
	target, err := parseTarget(req.Target)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	count := defaultPingCount
	if req.Count != nil {
		count = *req.Count
		if count < 1 || count > node.MaxPingCount {
			s.fail(w, r, invalid("invalid count %d: outside 1..%d (leave count out for %d pings)", count, node.MaxPingCount, defaultPingCount))
			return
		}
	}
	rtts, err := s.svc.Node.Ping(r.Context(), target, count)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := wire.PingResult{PeerID: target.ID.String(), RTTsMS: make([]float64, len(rtts))}
	for i, d := range rtts {
		out.RTTsMS[i] = ms(d)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postShutdown(w http.ResponseWriter, r *http.Request) {
	if s.opts.Shutdown == nil {
		writeError(w, http.StatusNotImplemented, errors.New("this node cannot be shut down through the API"))
		return
	}
	writeJSON(w, http.StatusAccepted, wire.Status{Status: "shutting down"})
	go s.opts.Shutdown()
}

// nodeEventWire converts the node's own event payloads.
func nodeEventWire(data any) (any, bool) {
	switch e := data.(type) {
	case node.PeerEvent:
		ev := wire.PeerEvent{PeerID: e.Peer.String(), Transport: e.Transport}
		if e.Addr != nil {
			ev.Addr = e.Addr.String()
			ev.Direction = strings.ToLower(e.Direction.String())
		}
		return ev, true
	case node.IdentifiedEvent:
		protos := make([]string, len(e.Protocols))
		for i, p := range e.Protocols {
			protos[i] = string(p)
		}
		return wire.IdentifiedEvent{PeerID: e.Peer.String(), AgentVersion: e.AgentVersion, Protocols: protos,
			Addrs: addrStrings(e.Addrs)}, true
	case node.AddrsEvent:
		return wire.AddrsEvent{Addrs: addrStrings(e.Addrs), Added: addrStrings(e.Added), Removed: addrStrings(e.Removed)}, true
	case node.StartedEvent:
		return wire.NodeEvent{PeerID: e.Peer.String()}, true
	}
	return nil, false
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, VersionWire(node.BuildInfo()))
}

// VersionWire converts a build description to its wire form ("plexus
// version" prints the CLI's own with it).
func VersionWire(b node.Build) wire.Version {
	v := wire.Version{Version: b.Version, Commit: b.Commit, Modified: b.Modified, Go: b.Go, Platform: b.Platform, Libp2p: b.Libp2p}
	if !b.CommitTime.IsZero() {
		t := b.CommitTime.UTC()
		v.CommitTime = &t
	}
	return v
}
