package nat

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
)

// maxHistory bounds the reachability changes Status keeps.
const maxHistory = 20

// autoNATConfidenceMetric is go-libp2p's gauge of AutoNAT v1's confidence
// (0..3): how many consecutive probes agreed with the current verdict.
const autoNATConfidenceMetric = "libp2p_autonat_reachability_status_confidence"

// MaxConfidence is the highest AutoNAT v1 confidence.
const MaxConfidence = 3

// addrSets is AutoNAT v2's verdict per address.
type addrSets struct {
	reachable, unreachable, unknown []ma.Multiaddr
}

// reachabilitySource names what decided the node's reachability.
func (s *Service) reachabilitySource() string {
	if s.cfg.Reachability == ReachabilityPublic || s.cfg.Reachability == ReachabilityPrivate {
		return SourceConfig
	}
	return SourceAutoNAT
}

func (s *Service) reachabilityChanged(r network.Reachability) {
	now := time.Now()
	s.mu.Lock()
	prev := s.reach
	s.reach, s.reachSince = r, now
	ch := ReachabilityChange{Time: now.UTC(), Reachability: r, Previous: prev, Source: s.reachabilitySource()}
	s.history = append(s.history, ch)
	if len(s.history) > maxHistory {
		s.history = slices.Delete(s.history, 0, len(s.history)-maxHistory)
	}
	s.mu.Unlock()
	ev := ReachabilityEvent{ReachabilityChange: ch, Confidence: s.confidence()}
	s.log.Info("reachability changed", "reachability", ch.Reachability, "previous", ch.Previous, "source", ch.Source)
	s.publish(EventReachability, ev)
}

func (s *Service) addrsReachabilityChanged(e event.EvtHostReachableAddrsChanged) {
	s.mu.Lock()
	s.v2 = addrSets{reachable: slices.Clone(e.Reachable), unreachable: slices.Clone(e.Unreachable), unknown: slices.Clone(e.Unknown)}
	s.mu.Unlock()
	ev := AddrsReachabilityEvent{Reachable: slices.Clone(e.Reachable), Unreachable: slices.Clone(e.Unreachable), Unknown: slices.Clone(e.Unknown)}
	s.log.Info("address reachability (AutoNAT v2)", "reachable", ev.Reachable, "unreachable", ev.Unreachable, "unknown", ev.Unknown)
	s.publish(EventAddrsReachability, ev)
}

func (s *Service) natTypeChanged(e event.EvtNATDeviceTypeChanged) {
	tr := "udp"
	if e.TransportProtocol == network.NATTransportTCP {
		tr = "tcp"
	}
	typ := MappingUnknown
	switch e.NatDeviceType {
	case network.NATDeviceTypeEndpointIndependent:
		typ = MappingEndpointIndependent
	case network.NATDeviceTypeEndpointDependent:
		typ = MappingEndpointDependent
	}
	s.mu.Lock()
	s.libp2pTypes[tr] = typ
	s.mu.Unlock()
	s.log.Info("NAT type (go-libp2p)", "transport", tr, "type", typ)
	s.publish(EventType, NATTypeEvent{Transport: tr, Type: typ})
}

// localAddrsChanged refreshes the port mappings and publishes changes.
func (s *Service) localAddrsChanged() {
	m, h := s.portMapping(), s.host()
	if m == nil || h == nil {
		return
	}
	var cur []PortMappingEntry
	for _, la := range h.Network().ListenAddresses() {
		if ext := m.GetMapping(la); ext != nil {
			cur = append(cur, PortMappingEntry{Listen: la, External: ext})
		}
	}
	s.mu.Lock()
	changed := !slices.EqualFunc(cur, s.mappings, PortMappingEntry.equal)
	s.mappings = cur
	s.mu.Unlock()
	if changed {
		s.log.Info("port mappings changed", "mappings", cur)
		s.publish(EventPortMapping, PortMappingEvent{Mappings: slices.Clone(cur)})
	}
}

// confidence reads AutoNAT v1's confidence from go-libp2p's metrics. It is
// nil when the reachability is forced or no metrics are available.
// go-libp2p keeps this gauge per process, so with several hosts in one
// process it describes the last one that probed.
func (s *Service) confidence() *int {
	if s.gath == nil || s.reachabilitySource() != SourceAutoNAT {
		return nil
	}
	fams, err := s.gath.Gather()
	if err != nil {
		return nil
	}
	for _, f := range fams {
		if f.GetName() != autoNATConfidenceMetric || len(f.GetMetric()) == 0 {
			continue
		}
		v := int(f.GetMetric()[0].GetGauge().GetValue())
		return &v
	}
	return nil
}
