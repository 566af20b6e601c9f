package nat

// Internals for the black-box tests.
var (
	TreatAsPublic = treatAsPublic
	InferMapping  = inferMapping
	Advise        = advise
)

// Observation builds an observation for InferMapping.
func Observation(transport string, localPort int, observedIP string, obsPort int, observer string) observation {
	return observation{Transport: transport, LocalPort: localPort, ObservedIP: observedIP, ObsPort: obsPort, Observer: observer}
}

type ObservationT = observation

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
