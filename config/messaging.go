package config

import "fmt"

// Messaging configures direct request/response between peers.
type Messaging struct {
	ProtocolPrefix string   `toml:"protocol_prefix" comment:"Application protocol IDs must start with this prefix, e.g. /app/recipes/1.0.0. Default \"/app/\"."`
	MaxMessageSize int      `toml:"max_message_size" comment:"Largest request or response payload in bytes. Default 1048576 (1 MiB)."`
	RequestTimeout Duration `toml:"request_timeout" comment:"Outgoing requests give up after this long. Default \"10s\"."`
	HandlerTimeout Duration `toml:"handler_timeout" comment:"A handler (or the local HTTP URL it forwards to) must answer within this. Default \"5s\"."`
	MaxConcurrent  int      `toml:"max_concurrent" comment:"Inbound requests handled at once; more are answered busy. Default 256."`
}

func defaultMessaging() Messaging {
	return Messaging{ProtocolPrefix: "/app/", MaxMessageSize: 1 << 20,
		RequestTimeout: Duration(10e9), HandlerTimeout: Duration(5e9), MaxConcurrent: 256}
}

func (c *Config) validateMessaging() []error {
	m := c.Messaging
	var errs []error
	if len(m.ProtocolPrefix) < 2 || m.ProtocolPrefix[0] != '/' {
		errs = append(errs, fmt.Errorf("messaging.protocol_prefix: %q must start with / and name a namespace, e.g. \"/app/\"", m.ProtocolPrefix))
	}
	if m.MaxMessageSize <= 0 || m.MaxMessageSize > 64<<20 {
		errs = append(errs, fmt.Errorf("messaging.max_message_size: %d is outside 1..67108864", m.MaxMessageSize))
	}
	if m.RequestTimeout <= 0 || m.HandlerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("messaging: request_timeout (%s) and handler_timeout (%s) must be positive", m.RequestTimeout, m.HandlerTimeout))
	}
	if m.MaxConcurrent <= 0 {
		errs = append(errs, fmt.Errorf("messaging.max_concurrent: %d must be positive", m.MaxConcurrent))
	}
	return errs
}
