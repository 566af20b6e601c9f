package config

import "fmt"

// PubSub configures publish/subscribe.
type PubSub struct {
	Router         string   `toml:"router" comment:"\"gossipsub\" (v1.1 with peer scoring; also talks to floodsub peers) or \"floodsub\" for networks of old floodsub-only peers. Default \"gossipsub\"."`
	MaxMessageSize int      `toml:"max_message_size" comment:"Largest message payload in bytes; larger publishes are refused. Default 1048576 (1 MiB)."`
	PublishWait    Duration `toml:"publish_wait" comment:"A publish to a topic with no peers yet waits up to this long for one, then reports that nobody received it. Default \"5s\"."`
}

func defaultPubSub() PubSub {
	return PubSub{Router: "gossipsub", MaxMessageSize: 1 << 20, PublishWait: Duration(5e9)}
}

func (c *Config) validatePubSub() []error {
	p := c.PubSub
	var errs []error
	if p.Router != "gossipsub" && p.Router != "floodsub" {
		errs = append(errs, fmt.Errorf("pubsub.router: %q is not \"gossipsub\" or \"floodsub\"", p.Router))
	}
	if p.MaxMessageSize <= 0 || p.MaxMessageSize > 64<<20 {
		errs = append(errs, fmt.Errorf("pubsub.max_message_size: %d is outside 1..67108864", p.MaxMessageSize))
	}
	if p.PublishWait < 0 {
		errs = append(errs, fmt.Errorf("pubsub.publish_wait: negative (%s)", p.PublishWait))
	}
	return errs
}
