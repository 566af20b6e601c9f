package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/events"
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
	s.answer(w, r, res, err)
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
	s.answer(w, r, res, err)
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
	sub := s.node.Events().Subscribe(0)
	defer sub.Close()
	var reported uint64
	streamSSE(w, r, "plexus event stream", sub.C(), func(ev events.Event, emit func(string, any)) {
		if d := sub.Dropped(); d > reported {
			emit("events.dropped", wire.Event{Type: "events.dropped", Time: time.Now().UTC(),
				Data: mustJSON(map[string]uint64{"dropped": d - reported})})
			reported = d
		}
		if matches(ev.Type, prefixes) {
			data := ev.Data
			if d, ok := natEventWire(data); ok {
				data = d
			}
			emit(ev.Type, wire.Event{Seq: ev.Seq, Type: ev.Type, Time: ev.Time, Data: mustJSON(data)})
		}
	}, nil)
}

// streamSSE serves a Server-Sent Events stream of the items of ch until the
// client goes away or ch is closed (then closed, if not nil, may emit a last
// event). each turns one item into zero or more events; heartbeat comments
// keep idle streams open through proxies.
func streamSSE[T any](w http.ResponseWriter, r *http.Request, comment string, ch <-chan T,
	each func(item T, emit func(typ string, data any)), closed func(emit func(typ string, data any))) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": %s\n\n", comment)
	if rc.Flush() != nil {
		return
	}
	emit := func(typ string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
	}
	hb := time.NewTicker(sseHeartbeat)
	defer hb.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-hb.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case item, ok := <-ch:
			if !ok {
				if closed != nil {
					closed(emit)
					rc.Flush()
				}
				return
			}
			each(item, emit)
		}
		if rc.Flush() != nil {
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
