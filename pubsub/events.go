package pubsub

import "github.com/libp2p/go-libp2p/core/peer"

// Publisher receives the events this package emits; the node passes its event bus.
type Publisher interface {
	Publish(typ string, data any)
}

// Event types and their data.
const (
	// EventMessage: a message from another peer arrived on a joined topic (MessageEvent).
	EventMessage = "pubsub.message"
	// EventPublished: this node published a message (PublishedEvent).
	EventPublished = "pubsub.published"
	// EventJoined: this node joined a topic (TopicEvent).
	EventJoined = "pubsub.joined"
	// EventLeft: this node left a topic (TopicEvent).
	EventLeft = "pubsub.left"
)

// MessageEvent is the data of EventMessage.
type MessageEvent struct {
	Topic string
	From  peer.ID
	Seqno uint64
	Size  int
	ID    string
}

// PublishedEvent is the data of EventPublished.
type PublishedEvent struct {
	Topic     string
	Size      int
	Peers     int
	MeshPeers int
}

// TopicEvent is the data of EventJoined and EventLeft.
type TopicEvent struct {
	Topic string
}

func (s *Service) emit(typ string, data any) {
	if s.cfg.events != nil {
		s.cfg.events.Publish(typ, data)
	}
}
