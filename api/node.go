package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
)

func (s *Server) getID(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, s.node.Info())
}

func (s *Server) getPeers(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, s.node.Peers())
}

func (s *Server) postConnect(w http.ResponseWriter, r *http.Request) {
	var req wire.ConnectRequest
	if !s.DecodeJSON(w, r, &req) {
		return
	}
	res, err := s.node.Connect(r.Context(), strings.TrimSpace(req.Addr))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}

func (s *Server) postDisconnect(w http.ResponseWriter, r *http.Request) {
	var req wire.DisconnectRequest
	if !s.DecodeJSON(w, r, &req) {
		return
	}
	if err := s.node.Disconnect(strings.TrimSpace(req.Peer)); err != nil {
		s.WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"peer_id": req.Peer})
}

func (s *Server) postPing(w http.ResponseWriter, r *http.Request) {
	var req wire.PingRequest
	if !s.DecodeJSON(w, r, &req) {
		return
	}
	res, err := s.node.Ping(r.Context(), strings.TrimSpace(req.Target), req.Count)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}

func (s *Server) postShutdown(w http.ResponseWriter, r *http.Request) {
	if s.opts.Shutdown == nil {
		writeError(w, http.StatusNotImplemented, fmt.Errorf("this node cannot be shut down through the API"))
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"status": "shutting down"})
	go s.opts.Shutdown()
}

// sseHeartbeat keeps idle event streams alive through proxies.
const sseHeartbeat = 15 * time.Second

// getEvents streams the node's events as Server-Sent Events. ?types=a,b
// keeps only events whose type starts with one of the given prefixes. When
// the client falls behind, lost events are reported as an "events.dropped"
// event with the count.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	var prefixes []string
	if v := r.URL.Query().Get("types"); v != "" {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				prefixes = append(prefixes, p)
			}
		}
	}
	rc := http.NewResponseController(w)
	sub := s.node.Events().Subscribe(0)
	defer sub.Close()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": plexus event stream\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	hb := time.NewTicker(sseHeartbeat)
	defer hb.Stop()
	var reported uint64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-hb.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			if d := sub.Dropped(); d > reported {
				writeSSE(w, "events.dropped", wire.Event{Type: "events.dropped", Time: time.Now().UTC(),
					Data: mustJSON(map[string]uint64{"dropped": d - reported})})
				reported = d
			}
			if !matches(ev.Type, prefixes) {
				continue
			}
			writeSSE(w, ev.Type, wire.Event{Seq: ev.Seq, Type: ev.Type, Time: ev.Time, Data: mustJSON(ev.Data)})
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func matches(typ string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}

func writeSSE(w http.ResponseWriter, typ string, ev wire.Event) {
	b, _ := json.Marshal(ev)
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
}

func mustJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"marshal_error": err.Error()})
	}
	return b
}
