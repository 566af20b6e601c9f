package api

import (
	"context"
	"net/http"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/pubsub"
)

// PubSub is what the pub/sub routes need: a *pubsub.Service, adapted by
// PubSubService.
type PubSub interface {
	Publish(ctx context.Context, topic string, data []byte) (pubsub.PublishResult, error)
	Join(topic string) error
	Leave(topic string) error
	Topics() []pubsub.TopicInfo
	Peers(topic string) []peer.ID
	Subscribe(topic string, buf int) (Subscription, error)
	// PeerStats lists the peers the router scores or rate-limited, lowest
	// score first.
	PeerStats() []pubsub.PeerStat
}

// Subscription is one local subscriber of a topic (a *pubsub.Subscription).
type Subscription interface {
	C() <-chan pubsub.Message
	Dropped() uint64
	Close()
}

// PubSubService adapts s to PubSub: its Subscribe returns the concrete
// *pubsub.Subscription, which Subscription describes.
func PubSubService(s *pubsub.Service) PubSub { return pubsubService{s} }

type pubsubService struct{ *pubsub.Service }

func (s pubsubService) Subscribe(topic string, buf int) (Subscription, error) {
	sub, err := s.Service.Subscribe(topic, buf)
	if err != nil {
		return nil, err // not a nil *pubsub.Subscription in a non-nil interface
	}
	return sub, nil
}

// subscribeBuffer is the number of messages buffered for one
// GET /v1/pubsub/subscribe stream; a client that falls further behind loses
// messages and is told how many.
const subscribeBuffer = 256

// topicName checks a topic name from a request (pubsub's rule, so that a
// bad name answers 400 before the service is asked).
func topicName(s string) (string, error) {
	if err := pubsub.ValidateTopicName(s); err != nil {
		return "", err
	}
	return s, nil
}

func (s *Server) postPublish(w http.ResponseWriter, r *http.Request) {
	var req wire.PublishRequest
	if !s.decode(w, r, &req) {
		return
	}
	topic, err := topicName(req.Topic)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.svc.PubSub.Publish(r.Context(), topic, req.Data)
	s.answer(w, r, publishResultWire(res), err)
}

func publishResultWire(in pubsub.PublishResult) wire.PublishResult {
	return wire.PublishResult{
		Topic:     in.Topic,
		Peers:     in.Peers,
		MeshPeers: in.MeshPeers,
		NoPeers:   in.NoPeers,
		Warning:   in.Warning,
		WaitedMS:  ms(in.Waited),
	}
}

func (s *Server) postPubSubJoin(w http.ResponseWriter, r *http.Request) {
	var req wire.TopicRequest
	if !s.decode(w, r, &req) {
		return
	}
	topic, err := topicName(req.Topic)
	if err == nil {
		err = s.svc.PubSub.Join(topic)
	}
	s.answer(w, r, req, err)
}

func (s *Server) postPubSubLeave(w http.ResponseWriter, r *http.Request) {
	var req wire.TopicRequest
	if !s.decode(w, r, &req) {
		return
	}
	topic, err := topicName(req.Topic)
	if err == nil {
		err = s.svc.PubSub.Leave(topic)
	}
	s.answer(w, r, req, err)
}

func (s *Server) getPubSubTopics(w http.ResponseWriter, r *http.Request) {
	ts := s.svc.PubSub.Topics()
	out := make([]wire.TopicInfo, len(ts))
	for i, t := range ts {
		out[i] = wire.TopicInfo{Name: t.Name, MeshPeers: t.MeshPeers, Peers: t.Peers, LocalSubscribers: t.LocalSubscribers}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getPubSubPeers(w http.ResponseWriter, r *http.Request) {
	topic, err := topicName(r.URL.Query().Get("topic"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peers := s.svc.PubSub.Peers(topic)
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = p.String()
	}
	writeJSON(w, http.StatusOK, out)
}

// getPubSubScores lists the peers' pub/sub scores and rate-limit drops.
func (s *Server) getPubSubScores(w http.ResponseWriter, r *http.Request) {
	stats := s.svc.PubSub.PeerStats()
	out := make([]wire.PubSubPeerScore, len(stats))
	for i, st := range stats {
		out[i] = wire.PubSubPeerScore{Peer: st.Peer.String(), Score: st.Score, RateLimited: st.RateLimited, State: st.State}
	}
	writeJSON(w, http.StatusOK, out)
}

// getPubSubSubscribe streams a topic's messages as Server-Sent Events
// ("event: message", data = wire.Message). Several clients may follow the
// same topic; each has its own bounded buffer, and a client that falls
// behind gets an "event: dropped" with the count. When the topic is left
// the stream ends with "event: closed".
func (s *Server) getPubSubSubscribe(w http.ResponseWriter, r *http.Request) {
	topic, err := topicName(r.URL.Query().Get("topic"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err := s.svc.PubSub.Subscribe(topic, subscribeBuffer)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer sub.Close()
	var reported uint64
	streamSSE(w, r, "subscribed to "+topic, sub.C(), func(m pubsub.Message, emit func(string, any)) bool {
		if d := sub.Dropped(); d > reported {
			emit("dropped", wire.DroppedEvent{Dropped: d - reported})
			reported = d
		}
		emit("message", messageWire(m))
		return true
	}, func(emit func(string, any)) { emit("closed", struct{}{}) })
}

func messageWire(m pubsub.Message) wire.Message {
	return wire.Message{
		From:         m.From.String(),
		Seqno:        m.Seqno,
		Topic:        m.Topic,
		Data:         m.Data,
		ReceivedAt:   m.ReceivedAt,
		ID:           m.ID,
		ReceivedFrom: m.ReceivedFrom.String(),
	}
}

// pubsubEventWire converts the pubsub package's event payloads.
func pubsubEventWire(data any) (any, bool) {
	switch e := data.(type) {
	case pubsub.MessageEvent:
		return wire.PubSubMessageEvent{Topic: e.Topic, From: e.From.String(), Seqno: e.Seqno, Size: e.Size, ID: e.ID}, true
	case pubsub.PublishedEvent:
		return wire.PubSubPublishedEvent{Topic: e.Topic, Size: e.Size, Peers: e.Peers, MeshPeers: e.MeshPeers}, true
	case pubsub.TopicEvent:
		return wire.PubSubTopicEvent{Topic: e.Topic}, true
	case pubsub.PeerThrottledEvent:
		return wire.PubSubPeerThrottledEvent{Peer: e.Peer.String(), Dropped: e.Dropped, Total: e.Total, Penalty: e.Penalty}, true
	}
	return nil, false
}
