// Package events is the node's in-process event bus: typed values fanned out
// to every subscriber through a bounded buffer. A slow subscriber loses events
// (and is told how many) instead of blocking the node. The API's Server-Sent
// Events stream and the dashboard read from it.
package events

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one thing that happened in the node.
type Event struct {
	// Seq increases by one for every event the bus publishes.
	Seq uint64
	// Type is a dotted lowercase name such as "peer.connected".
	Type string
	Time time.Time
	// Data is the event's typed payload (the API converts it for the
	// event stream).
	Data any
}

// DefaultBuffer is the per-subscriber buffer used when Subscribe is given 0.
const DefaultBuffer = 256

// Bus fans events out to subscribers. The zero value is not usable: call New.
type Bus struct {
	mu     sync.RWMutex
	subs   map[*Subscription]struct{}
	seq    atomic.Uint64
	closed bool
}

// New returns an empty bus.
func New() *Bus {
	return &Bus{subs: make(map[*Subscription]struct{})}
}

// Publish sends an event of type typ to every subscriber. It never blocks.
func (b *Bus) Publish(typ string, data any) {
	if b == nil {
		return
	}
	ev := Event{Seq: b.seq.Add(1), Type: typ, Time: time.Now().UTC(), Data: data}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return
	}
	for s := range b.subs {
		s.deliver(ev)
	}
}

// Subscribe returns a subscription with a buffer of buf events (0 means
// DefaultBuffer). Call Close on it when done.
func (b *Bus) Subscribe(buf int) *Subscription {
	if buf <= 0 {
		buf = DefaultBuffer
	}
	s := &Subscription{bus: b, ch: make(chan Event, buf)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(s.ch)
		s.done = true
		return s
	}
	b.subs[s] = struct{}{}
	return s
}

// Close ends every subscription; later publishes are dropped.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		s.finish()
	}
	b.subs = nil
}

// Subscription receives the events published after it was made.
type Subscription struct {
	bus     *Bus
	ch      chan Event
	dropped atomic.Uint64
	done    bool // guarded by bus.mu
}

// C returns the channel of events; it is closed when the subscription or the
// bus is closed.
func (s *Subscription) C() <-chan Event { return s.ch }

// Dropped reports how many events this subscriber lost because its buffer was
// full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops the subscription. It is idempotent.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if s.done {
		return
	}
	delete(s.bus.subs, s)
	s.finish()
}

func (s *Subscription) finish() {
	s.done = true
	close(s.ch)
}

func (s *Subscription) deliver(ev Event) {
	select {
	case s.ch <- ev:
	default:
		s.dropped.Add(1)
	}
}

// Recorder keeps every event published to it, in order. It satisfies the
// Publisher interfaces of the capability packages, so a test (or a program
// that runs one service without a bus) can inspect what a service emitted.
// The zero value is ready to use.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Publish records an event.
func (r *Recorder) Publish(typ string, data any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{Seq: uint64(len(r.events) + 1), Type: typ, Time: time.Now(), Data: data})
}

// Of returns the recorded events of type typ.
func (r *Recorder) Of(typ string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// All returns every recorded event.
func (r *Recorder) All() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Data returns the data of the recorded events of type typ.
func (r *Recorder) Data(typ string) []any {
	evs := r.Of(typ)
	out := make([]any, len(evs))
	for i, e := range evs {
		out[i] = e.Data
	}
	return out
}
