package pubsub

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Message is a message received on a topic. Data is shared between the local
// subscribers of the topic and must not be modified.
type Message struct {
	// From is the author, whose signature was verified.
	From peer.ID
	// Seqno is the author's sequence number of the message.
	Seqno uint64
	Topic string
	// Data is the payload.
	Data []byte
	// ReceivedAt is when this node received the message.
	ReceivedAt time.Time
	// ID identifies the message: "<author>/<seqno>", the printable form of
	// pubsub's default message ID (author and seqno bytes).
	ID string
	// ReceivedFrom is the peer that forwarded the message to us (this node
	// itself for messages it published).
	ReceivedFrom peer.ID
}

func newMessage(m *ps.Message) Message {
	from := m.GetFrom()
	raw := m.GetSeqno()
	var seqno uint64
	id := from.String() + "/"
	if len(raw) == 8 {
		seqno = binary.BigEndian.Uint64(raw)
		id += strconv.FormatUint(seqno, 10)
	} else {
		// Not written by go-libp2p-pubsub, but signed by its author: keep
		// the ID unique without guessing a number.
		id += "0x" + hex.EncodeToString(raw)
	}
	return Message{
		From:         from,
		Seqno:        seqno,
		Topic:        m.GetTopic(),
		Data:         m.GetData(),
		ReceivedAt:   time.Now(),
		ID:           id,
		ReceivedFrom: m.ReceivedFrom,
	}
}

// Subscription is one local subscriber of a topic. Messages that arrive
// while its buffer is full are dropped for it alone and counted by Dropped.
type Subscription struct {
	ts      *topicState
	ch      chan Message
	dropped atomic.Uint64
	closed  bool // guarded by ts.mu
}

// Subscribe adds a local subscriber to topic, joining the topic first if
// needed. buf is the number of messages buffered for it: <= 0 means
// DefaultSubscriberBuffer; at most MaxSubscriberBuffer.
func (s *Service) Subscribe(topic string, buf int) (*Subscription, error) {
	if buf <= 0 {
		buf = DefaultSubscriberBuffer
	}
	if buf > MaxSubscriberBuffer {
		return nil, fmt.Errorf("subscribe to %q: buffer of %d messages is over the limit of %d", topic, buf, MaxSubscriberBuffer)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, err := s.joinLocked(topic)
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	sub := &Subscription{ts: ts, ch: make(chan Message, buf)}
	ts.mu.Lock()
	ts.subs[sub] = struct{}{}
	ts.mu.Unlock()
	return sub, nil
}

// C returns the channel of messages. It is closed by Close, by leaving the
// topic, or by closing the Service.
func (sub *Subscription) C() <-chan Message { return sub.ch }

// Topic returns the topic name.
func (sub *Subscription) Topic() string { return sub.ts.name }

// Dropped returns how many messages were dropped because the buffer was full.
func (sub *Subscription) Dropped() uint64 { return sub.dropped.Load() }

// Close stops delivery and closes C. It does not leave the topic. It is idempotent.
func (sub *Subscription) Close() {
	sub.ts.mu.Lock()
	defer sub.ts.mu.Unlock()
	if sub.closed {
		return
	}
	sub.closed = true
	delete(sub.ts.subs, sub)
	close(sub.ch)
}
