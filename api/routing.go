package api

import (
	"context"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/routing"
)

// Routing is what the Kademlia routing routes need: the routing table,
// lookups, the crawler and the status of every DHT of the node.
// *routing.Combined implements it.
type Routing interface {
	Status() []routing.Status
	Table() []routing.Entry
	FindPeer(ctx context.Context, p peer.ID) (routing.Found, error)
	Closest(ctx context.Context, key string) ([]peer.ID, error)
	Explore(ctx context.Context, opts routing.ExploreOptions) (routing.Report, error)
}

func (s *Server) getDHTTable(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, tableWire(s.svc.Routing.Table()))
}

func (s *Server) getDHTStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, dhtStatusWire(s.svc.Routing.Status()))
}

func dhtStatusWire(st []routing.Status) wire.DHTStatus {
	out := wire.DHTStatus{DHTs: make([]wire.DHTSummary, len(st))}
	for i, d := range st {
		name := "plexus"
		if d.Amino {
			name = "amino"
			out.Amino = true
		}
		out.DHTs[i] = wire.DHTSummary{Name: name, Protocol: string(d.Protocol), Mode: string(d.Mode), TableSize: d.Size}
	}
	return out
}

func (s *Server) getDHTFindPeer(w http.ResponseWriter, r *http.Request) {
	p, err := parsePeerID(r.URL.Query().Get("peer"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := s.svc.Routing.FindPeer(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.FoundPeer{
		PeerID: f.ID.String(), Addrs: addrStrings(f.Addrs), Via: string(f.Via), DurationMS: ms(f.Duration),
	})
}

func (s *Server) getDHTClosest(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if key == "" {
		s.fail(w, r, invalid("empty key: ?key= is required"))
		return
	}
	start := time.Now()
	peers, err := s.svc.Routing.Closest(r.Context(), key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.ClosestPeers{Key: key, Peers: routingIDs(peers), DurationMS: ms(time.Since(start))})
}

func (s *Server) getExplore(w http.ResponseWriter, r *http.Request) {
	if wantsProgress(r) {
		s.streamProgress(w, r, "explore", func(report func(any)) (any, error) {
			rep, err := s.svc.Routing.Explore(r.Context(), routing.ExploreOptions{
				Progress: func(p routing.ExploreProgress) { report(exploreProgressWire(p)) }})
			return reportWire(rep), err
		})
		return
	}
	rep, err := s.svc.Routing.Explore(r.Context(), routing.ExploreOptions{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, reportWire(rep))
}

func exploreProgressWire(p routing.ExploreProgress) wire.ExploreProgress {
	return wire.ExploreProgress{Phase: p.Phase, Found: p.Found, Dialable: p.Dialable, Failed: p.Failed,
		Identify: p.Identify, ElapsedMS: ms(p.Elapsed)}
}

func tableWire(entries []routing.Entry) []wire.RoutingEntry {
	out := make([]wire.RoutingEntry, len(entries))
	for i, e := range entries {
		out[i] = wire.RoutingEntry{
			Bucket: e.Bucket, PeerID: e.Peer.String(), Connected: e.Connected,
			AddedAt: e.AddedAt.UTC(), LastUseful: e.LastUseful.UTC(),
		}
		if e.Addr != nil {
			out[i].Addr = e.Addr.String()
		}
	}
	return out
}

func reportWire(rep routing.Report) wire.ExploreReport {
	out := wire.ExploreReport{
		Self: rep.Self.String(), StartedAt: rep.StartedAt.UTC(), DurationMS: ms(rep.Duration),
		Complete: rep.Complete, Total: rep.Total, Dialable: rep.Dialable, Undialable: rep.Undialable,
		Nodes: make([]wire.ExploreNode, len(rep.Nodes)),
	}
	for i, n := range rep.Nodes {
		protos := make([]string, len(n.Protocols))
		for j, p := range n.Protocols {
			protos[j] = string(p)
		}
		out.Nodes[i] = wire.ExploreNode{
			PeerID: n.ID.String(), Self: n.Self, Addrs: addrStrings(n.Addrs), AgentVersion: n.AgentVersion,
			Protocols: protos, Dialable: n.Dialable, Neighbours: routingIDs(n.Neighbours), Error: n.Error,
		}
	}
	return out
}

func routingIDs(ps []peer.ID) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// routingEventWire converts the event payloads of package routing.
func routingEventWire(data any) (any, bool) {
	if c, ok := data.(routing.Change); ok {
		return wire.RoutingEvent{PeerID: c.Peer.String(), Size: c.Size}, true
	}
	return nil, false
}
