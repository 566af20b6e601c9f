package messaging

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Event types published through the Publisher.
const (
	// EventRequestHandled is published with a RequestHandled when an inbound
	// request was answered successfully.
	EventRequestHandled = "request.handled"
	// EventRequestFailed is published with a RequestFailed when an inbound
	// or outbound request failed.
	EventRequestFailed = "request.failed"
)

// Directions of a RequestFailed event.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)

// RequestHandled is the data of an EventRequestHandled event.
type RequestHandled struct {
	Protocol protocol.ID
	// Peer is the peer that sent the request.
	Peer     peer.ID
	BytesIn  int
	BytesOut int
	// Duration is the time from accepting the stream to writing the answer.
	Duration time.Duration
}

// RequestFailed is the data of an EventRequestFailed event.
type RequestFailed struct {
	Protocol protocol.ID
	// Peer is the remote peer: the caller of an inbound request, the
	// callee of an outbound one.
	Peer peer.ID
	// Error is the failure's text.
	Error string
	// Direction is DirectionInbound or DirectionOutbound.
	Direction string
}

func (s *Service) publishHandled(proto protocol.ID, from peer.ID, in, out int, d time.Duration) {
	if s.cfg.publisher == nil {
		return
	}
	s.cfg.publisher.Publish(EventRequestHandled, RequestHandled{
		Protocol: proto,
		Peer:     from,
		BytesIn:  in,
		BytesOut: out,
		Duration: d,
	})
}

func (s *Service) publishFailed(proto protocol.ID, p peer.ID, direction string, err error) {
	if s.cfg.publisher == nil {
		return
	}
	s.cfg.publisher.Publish(EventRequestFailed, RequestFailed{
		Protocol:  proto,
		Peer:      p,
		Error:     err.Error(),
		Direction: direction,
	})
}
