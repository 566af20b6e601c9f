package config

import (
	"fmt"
	"time"

	"github.com/plexus-p2p/plexus/internal/protoid"
)

// Defaults and bounds of the messaging settings. Package messaging uses the
// same constants for its own option defaults and checks, so both accept the
// same values.
const (
	// DefaultMessagingPrefix is the default messaging.protocol_prefix.
	DefaultMessagingPrefix = "/app/"
	// DefaultMessagingMaxMessageSize is the default messaging.max_message_size: 1 MiB.
	DefaultMessagingMaxMessageSize = 1 << 20
	// MaxMessagingMaxMessageSize is the largest messaging.max_message_size: 64 MiB.
	MaxMessagingMaxMessageSize = 64 << 20
	// DefaultMessagingRequestTimeout is the default messaging.request_timeout.
	DefaultMessagingRequestTimeout = 10 * time.Second
	// DefaultMessagingHandlerTimeout is the default messaging.handler_timeout.
	// It is below the request timeout so that a caller using the default
	// sees a handler's timeout as the handler's error rather than its own
	// timeout.
	DefaultMessagingHandlerTimeout = 5 * time.Second
	// DefaultMessagingMaxConcurrent is the default messaging.max_concurrent.
	DefaultMessagingMaxConcurrent = 256
)

// Messaging configures direct request/response between peers.
type Messaging struct {
	ProtocolPrefix string   `toml:"protocol_prefix" comment:"Application protocol IDs must start with this prefix, e.g. /app/recipes/1.0.0. Default \"/app/\"."`
	MaxMessageSize int      `toml:"max_message_size" comment:"Largest request or response payload in bytes, at most 67108864 (64 MiB). Default 1048576 (1 MiB)."`
	RequestTimeout Duration `toml:"request_timeout" comment:"Outgoing requests give up after this long. Default \"10s\"."`
	HandlerTimeout Duration `toml:"handler_timeout" comment:"A handler (or the local HTTP URL it forwards to) must answer within this. Default \"5s\"."`
	MaxConcurrent  int      `toml:"max_concurrent" comment:"Inbound requests handled at once; more are answered busy. Default 256."`
}

func defaultMessaging() Messaging {
	return Messaging{
		ProtocolPrefix: DefaultMessagingPrefix,
		MaxMessageSize: DefaultMessagingMaxMessageSize,
		RequestTimeout: Duration(DefaultMessagingRequestTimeout),
		HandlerTimeout: Duration(DefaultMessagingHandlerTimeout),
		MaxConcurrent:  DefaultMessagingMaxConcurrent,
	}
}

func (c *Config) validateMessaging() []error {
	m := c.Messaging
	var errs []error
	if err := protoid.CheckPrefix(m.ProtocolPrefix); err != nil {
		errs = append(errs, fmt.Errorf("messaging.protocol_prefix: %w", err))
	}
	if m.MaxMessageSize < 1 || m.MaxMessageSize > MaxMessagingMaxMessageSize {
		errs = append(errs, fmt.Errorf("messaging.max_message_size: %d is outside 1..%d", m.MaxMessageSize, MaxMessagingMaxMessageSize))
	}
	if m.RequestTimeout <= 0 || m.HandlerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("messaging: request_timeout (%s) and handler_timeout (%s) must be positive", m.RequestTimeout, m.HandlerTimeout))
	}
	if m.MaxConcurrent < 1 {
		errs = append(errs, fmt.Errorf("messaging.max_concurrent: %d must be positive", m.MaxConcurrent))
	}
	return errs
}
