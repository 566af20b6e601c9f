package messaging

import (
	"fmt"
	"log/slog"
	"time"

	pconfig "github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/protoid"
)

// Defaults of the options: the defaults of the messaging settings in the
// configuration file (package config), written once there.
const (
	// DefaultPrefix is the protocol ID prefix applications must use.
	DefaultPrefix = pconfig.DefaultMessagingPrefix
	// DefaultMaxMessageSize bounds a request and a response payload (1 MiB).
	DefaultMaxMessageSize = pconfig.DefaultMessagingMaxMessageSize
	// DefaultRequestTimeout bounds an outgoing request whose context has no
	// deadline, and each read or write of an inbound stream.
	DefaultRequestTimeout = pconfig.DefaultMessagingRequestTimeout
	// DefaultHandlerTimeout bounds one call of a handler. It is below
	// DefaultRequestTimeout so that a caller using the default sees the
	// handler's timeout as a HandlerError rather than its own timeout.
	DefaultHandlerTimeout = pconfig.DefaultMessagingHandlerTimeout
	// DefaultMaxConcurrent bounds the inbound requests handled at once.
	DefaultMaxConcurrent = pconfig.DefaultMessagingMaxConcurrent
	// DefaultMaxPerPeer bounds the inbound requests of one peer handled at
	// once, so that a few peers cannot hold every slot.
	DefaultMaxPerPeer = 8
	// DefaultReadTimeout bounds the reading of a whole inbound request
	// (length and body), so that a peer sending slowly frees its slot.
	DefaultReadTimeout = 5 * time.Second
)

// maxMessageSizeLimit is the largest value WithMaxMessageSize accepts (64 MiB).
const maxMessageSizeLimit = pconfig.MaxMessagingMaxMessageSize

// Publisher receives the events this package emits; the node passes its event bus.
type Publisher interface{ Publish(typ string, data any) }

// Option configures a Service.
type Option func(*config) error

type config struct {
	prefix         string
	maxSize        int
	requestTimeout time.Duration
	handlerTimeout time.Duration
	maxConcurrent  int
	maxPerPeer     int
	readTimeout    time.Duration
	logger         *slog.Logger
	publisher      Publisher
}

func defaultConfig() config {
	return config{
		prefix:         DefaultPrefix,
		maxSize:        DefaultMaxMessageSize,
		requestTimeout: DefaultRequestTimeout,
		handlerTimeout: DefaultHandlerTimeout,
		maxConcurrent:  DefaultMaxConcurrent,
		maxPerPeer:     DefaultMaxPerPeer,
		readTimeout:    DefaultReadTimeout,
	}
}

// WithPrefix sets the prefix every protocol ID must start with (default
// "/app/"). It must start and end with "/" and must not be "/" alone, which
// would let applications take over libp2p's own protocols.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if err := protoid.CheckPrefix(prefix); err != nil {
			return err
		}
		c.prefix = prefix
		return nil
	}
}

// WithMaxMessageSize sets the largest request or response payload, in bytes,
// that the service sends or accepts (default 1 MiB, at most 64 MiB).
func WithMaxMessageSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > maxMessageSizeLimit {
			return fmt.Errorf("max message size %d: must be between 1 and %d", n, maxMessageSizeLimit)
		}
		c.maxSize = n
		return nil
	}
}

// WithRequestTimeout sets the timeout of an outgoing request whose context
// has no deadline, and of each read or write on an inbound stream (default 10s).
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("request timeout %s: must be positive", d)
		}
		c.requestTimeout = d
		return nil
	}
}

// WithHandlerTimeout sets the deadline of the context passed to a handler,
// and so of an HTTP-forwarded request (default 5s).
func WithHandlerTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("handler timeout %s: must be positive", d)
		}
		c.handlerTimeout = d
		return nil
	}
}

// WithMaxConcurrent sets how many inbound requests the service handles at
// once (default 256). Requests beyond it are answered StatusBusy at once.
func WithMaxConcurrent(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("max concurrent %d: must be positive", n)
		}
		c.maxConcurrent = n
		return nil
	}
}

// WithMaxPerPeer sets how many inbound requests of one peer the service
// handles at once (default 8). A peer's requests beyond it are answered
// StatusBusy at once, while other peers are still served.
func WithMaxPerPeer(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("max per peer %d: must be positive", n)
		}
		c.maxPerPeer = n
		return nil
	}
}

// WithReadTimeout sets how long the service waits for the whole of an
// inbound request, from the start of its length to its last byte (default
// 5s, never more than the request timeout). A request not received by then
// is reset and its slot freed.
func WithReadTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("read timeout %s: must be positive", d)
		}
		c.readTimeout = d
		return nil
	}
}

// WithLogger sets the logger (default slog.Default() with component=messaging).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithPublisher sets where events go (default: none).
func WithPublisher(p Publisher) Option {
	return func(c *config) error {
		c.publisher = p
		return nil
	}
}
