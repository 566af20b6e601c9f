package api

import (
	"net/http"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/pubsub"
)

// pubsubNode is what the pub/sub routes need.
type pubsubNode interface {
	PubSub() *pubsub.Service
}

func (s *Server) pubsubRoutes(ps *pubsub.Service) {
	s.handle("POST /v1/pubsub/publish", func(w http.ResponseWriter, r *http.Request) {
		var req wire.PublishRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		res, err := ps.Publish(r.Context(), req.Topic, req.Data)
		s.answer(w, r, res, err)
	})
	s.handle("POST /v1/pubsub/join", func(w http.ResponseWriter, r *http.Request) {
		var req wire.TopicRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		s.answer(w, r, req, ps.Join(req.Topic))
	})
	s.handle("POST /v1/pubsub/leave", func(w http.ResponseWriter, r *http.Request) {
		var req wire.TopicRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		s.answer(w, r, req, ps.Leave(req.Topic))
	})
	s.handle("GET /v1/pubsub/topics", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, ps.Topics())
	})
	s.handle("GET /v1/pubsub/peers", func(w http.ResponseWriter, r *http.Request) {
		topic := r.URL.Query().Get("topic")
		if err := pubsub.ValidateTopicName(topic); err != nil {
			s.WriteError(w, r, err)
			return
		}
		peers := ps.Peers(topic)
		out := make([]string, len(peers))
		for i, p := range peers {
			out[i] = p.String()
		}
		WriteJSON(w, http.StatusOK, out)
	})
	s.handle("GET /v1/pubsub/subscribe", func(w http.ResponseWriter, r *http.Request) {
		s.subscribe(w, r, ps)
	})
}

// subscribe streams a topic's messages as Server-Sent Events ("event:
// message", data = the message as JSON with base64 data). Several clients
// may follow the same topic; each has its own bounded buffer, and a client
// that falls behind gets an "event: dropped" with the count.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, ps *pubsub.Service) {
	topic := r.URL.Query().Get("topic")
	sub, err := ps.Subscribe(topic, 256)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	defer sub.Close()
	var reported uint64
	streamSSE(w, r, "subscribed to "+topic, sub.C(), func(m pubsub.Message, emit func(string, any)) {
		if d := sub.Dropped(); d > reported {
			emit("dropped", map[string]uint64{"dropped": d - reported})
			reported = d
		}
		emit("message", m)
	}, func(emit func(string, any)) { emit("closed", struct{}{}) })
}
