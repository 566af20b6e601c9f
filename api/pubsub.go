package api

import (
	"net/http"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/pubsub"
)

// PubSub is what the pub/sub routes need.
type PubSub interface {
	PubSub() *pubsub.Service
}

func (s *Server) postPublish(w http.ResponseWriter, r *http.Request) {
	var req wire.PublishRequest
	if !s.decode(w, r, &req) {
		return
	}
	res, err := s.svc.PubSub.PubSub().Publish(r.Context(), req.Topic, req.Data)
	s.answer(w, r, res, err)
}

func (s *Server) postPubSubJoin(w http.ResponseWriter, r *http.Request) {
	var req wire.TopicRequest
	if !s.decode(w, r, &req) {
		return
	}
	s.answer(w, r, req, s.svc.PubSub.PubSub().Join(req.Topic))
}

func (s *Server) postPubSubLeave(w http.ResponseWriter, r *http.Request) {
	var req wire.TopicRequest
	if !s.decode(w, r, &req) {
		return
	}
	s.answer(w, r, req, s.svc.PubSub.PubSub().Leave(req.Topic))
}

func (s *Server) getPubSubTopics(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.PubSub.PubSub().Topics())
}

func (s *Server) getPubSubPeers(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	if err := pubsub.ValidateTopicName(topic); err != nil {
		s.fail(w, r, err)
		return
	}
	peers := s.svc.PubSub.PubSub().Peers(topic)
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = p.String()
	}
	writeJSON(w, http.StatusOK, out)
}

// getPubSubSubscribe streams a topic's messages as Server-Sent Events
// ("event: message", data = the message as JSON with base64 data). Several
// clients may follow the same topic; each has its own bounded buffer, and a
// client that falls behind gets an "event: dropped" with the count.
func (s *Server) getPubSubSubscribe(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	sub, err := s.svc.PubSub.PubSub().Subscribe(topic, 256)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer sub.Close()
	var reported uint64
	streamSSE(w, r, "subscribed to "+topic, sub.C(), func(m pubsub.Message, emit func(string, any)) {
		if d := sub.Dropped(); d > reported {
			emit("dropped", wire.DroppedEvent{Dropped: d - reported})
			reported = d
		}
		emit("message", m)
	}, func(emit func(string, any)) { emit("closed", struct{}{}) })
}
