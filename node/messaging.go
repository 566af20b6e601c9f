package node

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/api/wire"
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
		messaging.WithPublisher(n.bus),
	)
	if err != nil {
		return err
	}
	n.msg = svc
	n.addCloser(svc.Close)
	return nil
}

// Messaging returns the request/response service, to register Go handlers.
func (n *Node) Messaging() *messaging.Service { return n.msg }

// Send sends one request to a peer (connecting to it first, through the DHT
// if needed) and returns the response.
func (n *Node) Send(ctx context.Context, peerID, proto string, data []byte) (wire.SendResult, error) {
	p, err := ParsePeer(peerID)
	if err != nil {
		return wire.SendResult{}, err
	}
	if p == n.host.ID() {
		return wire.SendResult{}, errSelf
	}
	if err := n.ensureConnected(ctx, p); err != nil {
		return wire.SendResult{}, err
	}
	start := time.Now()
	resp, err := n.msg.Send(ctx, p, protocol.ID(proto), data)
	if err != nil {
		return wire.SendResult{}, err
	}
	return wire.SendResult{PeerID: p.String(), Protocol: proto, Data: resp, DurationMS: ms(time.Since(start))}, nil
}

// Handlers lists the registered application protocol handlers.
func (n *Node) Handlers() []wire.Handler {
	hs := n.msg.Handlers()
	out := make([]wire.Handler, len(hs))
	for i, h := range hs {
		out[i] = wire.Handler{Protocol: string(h.Protocol), Kind: h.Kind, URL: h.URL, Registered: h.Registered,
			Handled: h.Handled, Failed: h.Failed}
	}
	return out
}

// AddHTTPHandler serves proto by forwarding each request to a local URL.
func (n *Node) AddHTTPHandler(proto, url string) error {
	return n.msg.HandleHTTP(protocol.ID(proto), url)
}

// RemoveHandler stops serving proto.
func (n *Node) RemoveHandler(proto string) error { return n.msg.Unhandle(protocol.ID(proto)) }
