package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/node"
)

// eventConverters turn the typed event payloads of the node and its
// services into wire types; the first that knows a payload wins.
var eventConverters = []func(data any) (any, bool){
	nodeEventWire,
	recordsEventWire,
	perfEventWire,
	natEventWire,
	discoveryEventWire,
	routingEventWire,
	pubsubEventWire,
	messagingEventWire,
	tunnelEventWire,
	aclEventWire,
	filesEventWire,
}

// eventWire converts one event payload for the stream. A payload no
// converter knows is sent as it marshals (and is a bug the API tests catch).
func eventWire(data any) any {
	if data == nil {
		return nil
	}
	for _, conv := range eventConverters {
		if v, ok := conv(data); ok {
			return v
		}
	}
	return data
}

// sseHeartbeat keeps idle event streams alive through proxies.
const sseHeartbeat = 15 * time.Second

// getEvents streams the node's events as Server-Sent Events. ?types=a,b
// keeps only events whose type starts with one of the given prefixes. When
// the client falls behind, lost events are reported as an "events.dropped"
// event with the count. The stream ends, cleanly, after node.stopping (sent
// whatever the filter): a client that reads to the end of the stream knows
// the daemon stopped rather than crashed.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	var prefixes []string
	if v := r.URL.Query().Get("types"); v != "" {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				prefixes = append(prefixes, p)
			}
		}
	}
	sub := s.svc.Node.Events().Subscribe(0)
	defer sub.Close()
	var reported uint64
	streamSSE(w, r, "plexus event stream", sub.C(), func(ev events.Event, emit func(string, any)) bool {
		if d := sub.Dropped(); d > reported {
			emit("events.dropped", wire.Event{Type: "events.dropped", Time: time.Now().UTC(),
				Data: mustJSON(wire.DroppedEvent{Dropped: d - reported})})
			reported = d
		}
		last := ev.Type == node.EventStopping
		if last || matches(ev.Type, prefixes) {
			emit(ev.Type, wire.Event{Seq: ev.Seq, Type: ev.Type, Time: ev.Time, Data: mustJSON(eventWire(ev.Data))})
		}
		return !last
	}, nil)
}

// streamSSE serves a Server-Sent Events stream of the items of ch until the
// client goes away, ch is closed (then closed, if not nil, may emit a last
// event) or each reports that the item was the last. each turns one item
// into zero or more events; heartbeat comments keep idle streams open
// through proxies. The stream always ends with a complete response, so a
// client can tell its end from a broken connection.
func streamSSE[T any](w http.ResponseWriter, r *http.Request, comment string, ch <-chan T,
	each func(item T, emit func(typ string, data any)) (more bool), closed func(emit func(typ string, data any))) {
	rc, err := beginSSE(w, comment)
	if err != nil {
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
			if !each(item, emit) {
				rc.Flush()
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// beginSSE starts a Server-Sent Events answer with a comment line and
// flushes it; an error means the client is gone.
func beginSSE(w http.ResponseWriter, comment string) (*http.ResponseController, error) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": %s\n\n", comment)
	return rc, rc.Flush()
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
