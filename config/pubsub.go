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
	// DefaultPubSubPeerRateLimit is the default pubsub.peer_rate_limit:
	// messages per second one peer may send us (issue 20 row 7: a flood of
	// 7,100/s from one peer went unpenalised).
	DefaultPubSubPeerRateLimit = 500
	// MaxPubSubPeerRateLimit bounds pubsub.peer_rate_limit.
	MaxPubSubPeerRateLimit = 1_000_000
	// DefaultPubSubPeerBurst is the default pubsub.peer_burst.
	DefaultPubSubPeerBurst = 200
	// MaxPubSubPeerBurst bounds pubsub.peer_burst.
	MaxPubSubPeerBurst = 10_000_000
	// DefaultPubSubMeshFastestPeers is the default pubsub.mesh_fastest_peers.
	DefaultPubSubMeshFastestPeers = 6
	// MaxPubSubMeshFastestPeers bounds pubsub.mesh_fastest_peers.
	MaxPubSubMeshFastestPeers = 1000
)

// PubSub configures publish/subscribe.
type PubSub struct {
	Router         string   `toml:"router" comment:"\"gossipsub\" (v1.1 with peer scoring; also talks to floodsub peers) or \"floodsub\" for networks of old floodsub-only peers. Default \"gossipsub\"."`
	MaxMessageSize int      `toml:"max_message_size" comment:"Largest message payload in bytes, at most 67108864 (64 MiB); larger publishes are refused. Default 1048576 (1 MiB)."`
	PublishWait    Duration `toml:"publish_wait" comment:"A publish to a topic with no peers yet waits up to this long for one, then reports that nobody received it. Default \"5s\"."`
	PeerRateLimit  int      `toml:"peer_rate_limit" comment:"Messages per second one peer may send this node (its own and those it forwards, all topics); the excess is dropped before validation, counted (plexus pubsub scores, metric plexus_pubsub_messages_dropped_total) and lowers the peer's score, so a flooding peer is graylisted. 0 turns the limit off; at most 1000000. Default 500."`
	PeerBurst      int      `toml:"peer_burst" comment:"Messages one peer may send in a burst above peer_rate_limit. 1 to 10000000. Default 200 (larger bursts overflow the 32-message validation queue, and that drops other peers' messages too)."`
	MeshFastest    int      `toml:"mesh_fastest_peers" comment:"gossipsub meshes take only the topic peers with the shortest round trips (libp2p ping): this many of them get a small score bonus and the slower ones -1, which keeps them out of this node's meshes but still sends them gossip and this node's messages. Fewer duplicate copies at nearly the latency of a large mesh. 0 turns it off (meshes take random peers). At most 1000. Default 6."`
}

func defaultPubSub() PubSub {
	return PubSub{
		Router:         PubSubRouterGossipSub,
		MaxMessageSize: DefaultPubSubMaxMessageSize,
		PublishWait:    Duration(DefaultPubSubPublishWait),
		PeerRateLimit:  DefaultPubSubPeerRateLimit,
		PeerBurst:      DefaultPubSubPeerBurst,
		MeshFastest:    DefaultPubSubMeshFastestPeers,
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
	if p.PeerRateLimit < 0 || p.PeerRateLimit > MaxPubSubPeerRateLimit {
		errs = append(errs, fmt.Errorf("pubsub.peer_rate_limit: %d is outside 0..%d (0: no limit)", p.PeerRateLimit, MaxPubSubPeerRateLimit))
	}
	if p.PeerBurst < 1 || p.PeerBurst > MaxPubSubPeerBurst {
		errs = append(errs, fmt.Errorf("pubsub.peer_burst: %d is outside 1..%d", p.PeerBurst, MaxPubSubPeerBurst))
	}
	if p.MeshFastest < 0 || p.MeshFastest > MaxPubSubMeshFastestPeers {
		errs = append(errs, fmt.Errorf("pubsub.mesh_fastest_peers: %d is outside 0..%d (0: off)", p.MeshFastest, MaxPubSubMeshFastestPeers))
	}
	return errs
}
