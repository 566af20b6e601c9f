package config

import (
	"fmt"
	"time"
)

// Defaults and bounds of the pubsub settings. Package pubsub uses the same
// constants for its own option defaults and checks, so both accept the same
// values.
const (
	// PubSubRouterGossipSub and PubSubRouterFloodSub are the values of pubsub.router.
	PubSubRouterGossipSub = "gossipsub"
	PubSubRouterFloodSub  = "floodsub"
	// DefaultPubSubMaxMessageSize is the default pubsub.max_message_size: 1 MiB.
	DefaultPubSubMaxMessageSize = 1 << 20
	// MaxPubSubMaxMessageSize is the largest pubsub.max_message_size: 64 MiB
	// (pubsub amplifies every message D times; large payloads belong elsewhere).
	MaxPubSubMaxMessageSize = 64 << 20
	// DefaultPubSubPublishWait is the default pubsub.publish_wait.
	DefaultPubSubPublishWait = 5 * time.Second
)

// PubSub configures publish/subscribe.
type PubSub struct {
	Router         string   `toml:"router" comment:"\"gossipsub\" (v1.1 with peer scoring; also talks to floodsub peers) or \"floodsub\" for networks of old floodsub-only peers. Default \"gossipsub\"."`
	MaxMessageSize int      `toml:"max_message_size" comment:"Largest message payload in bytes, at most 67108864 (64 MiB); larger publishes are refused. Default 1048576 (1 MiB)."`
	PublishWait    Duration `toml:"publish_wait" comment:"A publish to a topic with no peers yet waits up to this long for one, then reports that nobody received it. Default \"5s\"."`
}

func defaultPubSub() PubSub {
	return PubSub{
		Router:         PubSubRouterGossipSub,
		MaxMessageSize: DefaultPubSubMaxMessageSize,
		PublishWait:    Duration(DefaultPubSubPublishWait),
	}
}

func (c *Config) validatePubSub() []error {
	p := c.PubSub
	var errs []error
	if p.Router != PubSubRouterGossipSub && p.Router != PubSubRouterFloodSub {
		errs = append(errs, fmt.Errorf("pubsub.router: %q is not %q or %q", p.Router, PubSubRouterGossipSub, PubSubRouterFloodSub))
	}
	if p.MaxMessageSize < 1 || p.MaxMessageSize > MaxPubSubMaxMessageSize {
		errs = append(errs, fmt.Errorf("pubsub.max_message_size: %d is outside 1..%d", p.MaxMessageSize, MaxPubSubMaxMessageSize))
	}
	if p.PublishWait < 0 {
		errs = append(errs, fmt.Errorf("pubsub.publish_wait: negative (%s)", p.PublishWait))
	}
	return errs
}
