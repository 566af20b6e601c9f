package pubsub

import (
	"net"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Peer score thresholds, adapted from Lotus (Filecoin), which runs gossipsub
// v1.1 scoring on a public network. A peer's score is the weighted sum below;
// the thresholds decide what happens to a peer as it falls:
//
//	score < 0      not grafted into, and pruned from, our meshes
//	score < -500   no gossip (IHAVE/IWANT) exchanged with it
//	score < -1000  our own messages are not flood-published to it
//	score < -2500  graylisted: everything it sends is ignored
const (
	GossipScoreThreshold             = -500
	PublishScoreThreshold            = -1000
	GraylistScoreThreshold           = -2500
	AcceptPXScoreThreshold           = 1000 // PX only from peers given a high app score; PX is off anyway
	OpportunisticGraftScoreThreshold = 3.5
)

// DefaultPeerScoreThresholds returns the thresholds above.
func DefaultPeerScoreThresholds() *ps.PeerScoreThresholds {
	return &ps.PeerScoreThresholds{
		GossipThreshold:             GossipScoreThreshold,
		PublishThreshold:            PublishScoreThreshold,
		GraylistThreshold:           GraylistScoreThreshold,
		AcceptPXThreshold:           AcceptPXScoreThreshold,
		OpportunisticGraftThreshold: OpportunisticGraftScoreThreshold,
	}
}

// DefaultPeerScoreParams returns fresh peer-wide score parameters (adapted
// from Lotus); per-topic parameters are added on Join:
//
//   - Topic scores are capped at +10 in total, so a peer cannot bank enough
//     positive score on busy topics to hide misbehaviour.
//   - P5 app-specific score: 0 for everyone (weight 1), a hook for later.
//   - P6 IP colocation: more than 10 peers from one IP (or IPv6 /64) cost
//     -100 x surplus²; loopback and private, link-local and CGNAT ranges are
//     exempt, so a LAN full of nodes found by mDNS is not penalised.
//   - P7 behaviour (GRAFT during backoff, unanswered IWANTs): -10 x (count-6)²,
//     decaying over an hour.
//   - Counters decay every second; a disconnected peer's score is kept for
//     an hour, so reconnecting does not wash away a penalty.
func DefaultPeerScoreParams() *ps.PeerScoreParams {
	return &ps.PeerScoreParams{
		Topics:                      make(map[string]*ps.TopicScoreParams),
		TopicScoreCap:               10,
		AppSpecificScore:            func(peer.ID) float64 { return 0 },
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    -100,
		IPColocationFactorThreshold: 10,
		IPColocationFactorWhitelist: privateNets(),
		BehaviourPenaltyWeight:      -10,
		BehaviourPenaltyThreshold:   6,
		BehaviourPenaltyDecay:       ps.ScoreParameterDecay(time.Hour),
		DecayInterval:               ps.DefaultDecayInterval,
		DecayToZero:                 ps.DefaultDecayToZero,
		RetainScore:                 time.Hour,
	}
}

// DefaultTopicScoreParams returns the score parameters applied to each topic
// on Join (adapted from Lotus' message topic):
//
//   - Topic weight 0.1.
//   - P1 time in mesh: +1/3600 per second in our mesh, capped after an hour.
//   - P2 first deliveries: +0.5 per message a peer was first to bring us,
//     capped at 100 and decaying over 10 minutes (at most +5 after weighting).
//   - P3/P3b mesh delivery rate: off. Application topics are often quiet, and
//     a rate requirement would punish honest mesh peers of quiet topics.
//   - P4 invalid messages (bad or missing signature, rejected by validation):
//     -1000 x count², decaying over an hour. After the topic weight one
//     invalid message costs -100 (the peer leaves our mesh), three cost -900
//     (no more gossip), five cost -2500 (graylisted).
func DefaultTopicScoreParams() *ps.TopicScoreParams {
	return &ps.TopicScoreParams{
		TopicWeight: 0.1,

		TimeInMeshWeight:  1.0 / 3600,
		TimeInMeshQuantum: time.Second,
		TimeInMeshCap:     3600,

		FirstMessageDeliveriesWeight: 0.5,
		FirstMessageDeliveriesDecay:  ps.ScoreParameterDecay(10 * time.Minute),
		FirstMessageDeliveriesCap:    100,

		InvalidMessageDeliveriesWeight: -1000,
		InvalidMessageDeliveriesDecay:  ps.ScoreParameterDecay(time.Hour),
	}
}

// privateNets lists the ranges exempt from the IP colocation penalty.
func privateNets() []*net.IPNet {
	cidrs := []string{
		"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
		"169.254.0.0/16", "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10",
	}
	nets := make([]*net.IPNet, 0, len(cidrs))
	for _, c := range cidrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			panic(err) // constant input
		}
		nets = append(nets, n)
	}
	return nets
}
