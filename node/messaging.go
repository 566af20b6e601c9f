package node

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/messaging"
)

func (n *Node) startMessaging() error {
	m := n.cfg.Messaging
	svc, err := messaging.New(n.host,
		messaging.WithPrefix(m.ProtocolPrefix),
		messaging.WithMaxMessageSize(m.MaxMessageSize),
		messaging.WithRequestTimeout(time.Duration(m.RequestTimeout)),
		messaging.WithHandlerTimeout(time.Duration(m.HandlerTimeout)),
		messaging.WithMaxConcurrent(m.MaxConcurrent),
		messaging.WithLogger(n.cfg.Logger),
		messaging.WithPublisher(usefulPublisher{n}),
	)
	if err != nil {
		return err
	}
	n.msg = svc
	n.addCloser(svc.Close)
	return n.restoreHTTPHandlers(n.ctx)
}

// Messaging returns the request/response service, to register Go handlers.
func (n *Node) Messaging() *messaging.Service { return n.msg }

// SendResult is the answer to a request sent with Send.
type SendResult struct {
	Peer     peer.ID
	Protocol protocol.ID
	Data     []byte
	// Duration is how long the request took once connected to the peer.
	Duration time.Duration
}

// Send sends one request to peer p on proto (connecting to p first, through
// the DHT if needed) and returns the response. Errors wrap
// ErrInvalidArgument (p is this node), ErrUnreachable, or messaging's
// sentinels (messaging.ErrTimeout, ErrProtocolNotSupported, ErrTooLarge, ...).
func (n *Node) Send(ctx context.Context, p peer.ID, proto protocol.ID, data []byte) (SendResult, error) {
	if p == n.host.ID() {
		return SendResult{}, errSelf
	}
	if err := n.ensureConnected(ctx, p); err != nil {
		return SendResult{}, err
	}
	start := time.Now()
	resp, err := n.msg.Send(ctx, p, proto, data)
	if err != nil {
		return SendResult{}, err
	}
	n.useful(p)
	return SendResult{Peer: p, Protocol: proto, Data: resp, Duration: time.Since(start)}, nil
}

// Handlers lists the registered application protocol handlers.
func (n *Node) Handlers() []messaging.HandlerInfo { return n.msg.Handlers() }
