package config

// NAT configures NAT traversal: port mapping, AutoNAT, relays and hole
// punching.
type NAT struct {
	PortMapping bool `toml:"port_mapping" comment:"Ask the router for a port mapping with UPnP / NAT-PMP. Default true."`
}

// validateNAT reports problems in the NAT section.
func (c *Config) validateNAT() []error { return nil }
