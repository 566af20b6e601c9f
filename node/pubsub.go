package node

import (
	"context"
	"time"

	"github.com/plexus-p2p/plexus/pubsub"
)

func (n *Node) startPubSub(ctx context.Context) error {
	c := n.cfg.PubSub
	opts := []pubsub.Option{
		pubsub.WithRouter(c.Router),
		pubsub.WithMaxMessageSize(c.MaxMessageSize),
		pubsub.WithPublishWait(time.Duration(c.PublishWait)),
		pubsub.WithEvents(n.bus),
		pubsub.WithLogger(n.cfg.Logger),
	}
	if n.topicDiscovery != nil {
		opts = append(opts, pubsub.WithDiscovery(n.topicDiscovery))
	}
	svc, err := pubsub.New(ctx, n.host, opts...)
	if err != nil {
		return err
	}
	n.ps = svc
	n.addCloser(svc.Close)
	return nil
}

// PubSub returns the publish/subscribe service.
func (n *Node) PubSub() *pubsub.Service { return n.ps }
