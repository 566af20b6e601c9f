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
	Protocol   string  `json:"protocol"`
	Peer       string  `json:"peer"`
	BytesIn    int     `json:"bytes_in"`
	BytesOut   int     `json:"bytes_out"`
	DurationMS float64 `json:"duration_ms"`
}

// RequestFailed is the data of an EventRequestFailed event.
type RequestFailed struct {
	Protocol  string `json:"protocol"`
	Peer      string `json:"peer"`
	Error     string `json:"error"`
	Direction string `json:"direction"`
}

func (s *Service) publishHandled(proto protocol.ID, from peer.ID, in, out int, d time.Duration) {
	if s.cfg.publisher == nil {
		return
	}
	s.cfg.publisher.Publish(EventRequestHandled, RequestHandled{
		Protocol:   string(proto),
		Peer:       from.String(),
		BytesIn:    in,
		BytesOut:   out,
		DurationMS: float64(d.Microseconds()) / 1000,
	})
}

func (s *Service) publishFailed(proto protocol.ID, p peer.ID, direction string, err error) {
	if s.cfg.publisher == nil {
		return
	}
	s.cfg.publisher.Publish(EventRequestFailed, RequestFailed{
		Protocol:  string(proto),
		Peer:      p.String(),
		Error:     err.Error(),
		Direction: direction,
	})
}
