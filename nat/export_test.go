package nat

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Internals for the black-box tests.
var (
	TreatAsPublic       = treatAsPublic
	InferMapping        = inferMapping
	Advise              = advise
	ObservedPublicAddrs = observedPublicAddrs
)

// Observation builds an observation for InferMapping.
func Observation(transport string, localPort int, observedIP string, obsPort int, observer string) observation {
	return observation{Transport: transport, LocalPort: localPort, ObservedIP: observedIP, ObsPort: obsPort, Observer: observer}
}

type ObservationT = observation

// MarkRelayedOnly records p as reached only through a relay.
func MarkRelayedOnly(s *Service, p peer.ID) {
	s.mu.Lock()
	s.relayedAt[p] = time.Now()
	s.mu.Unlock()
}

// Birthday punching internals.
var (
	BirthdayRoles = birthdayRoles
	ProbePacket   = probePacket
	ParseProbe    = parseProbe
	RandomPorts   = randomPorts
	WhyRelayed    = whyRelayed
)

const (
	BirthdayNATHard = birthdayNATHard
	BirthdayNATEasy = birthdayNATEasy
	BirthdayProbes  = birthdayProbes
)
