package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Defaults of the options.
const (
	// DefaultMaxConns is how many connections one tunnel carries at once.
	DefaultMaxConns = 128
	// DefaultDialTimeout bounds the exposing side's TCP dial of its target.
	DefaultDialTimeout = 10 * time.Second
	// DefaultOpenTimeout bounds the forwarding side's connect to the peer
	// and the opening of the stream.
	DefaultOpenTimeout = 30 * time.Second
	// DefaultBufferSize is the copy buffer of each direction of a connection.
	DefaultBufferSize = 32 << 10

	minBufferSize = 4 << 10
	maxBufferSize = 1 << 20
)

// Publisher receives the events this package emits; the node passes its event bus.
type Publisher interface{ Publish(typ string, data any) }

// Option configures a Service.
type Option func(*config) error

type config struct {
	logger       *slog.Logger
	publisher    Publisher
	maxConns     int
	dialTimeout  time.Duration
	openTimeout  time.Duration
	bufSize      int
	defaultAllow func(peer.ID) bool
	connect      func(ctx context.Context, p peer.ID) error
}

func defaultConfig() config {
	return config{
		maxConns:    DefaultMaxConns,
		dialTimeout: DefaultDialTimeout,
		openTimeout: DefaultOpenTimeout,
		bufSize:     DefaultBufferSize,
	}
}

// WithLogger sets the logger (default slog.Default() with component=tunnel).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil logger")
		}
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

// WithMaxConns sets how many connections one tunnel carries at once
// (default 128). Beyond it an exposed tunnel refuses new streams and a
// forwarding tunnel closes new TCP connections at once.
func WithMaxConns(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("max connections %d: must be at least 1", n)
		}
		c.maxConns = n
		return nil
	}
}

// WithDialTimeout bounds the exposing side's TCP dial of its target
// (default 10s).
func WithDialTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("dial timeout %s: must be positive", d)
		}
		c.dialTimeout = d
		return nil
	}
}

// WithOpenTimeout bounds the forwarding side's connect to the peer and the
// opening of a stream for one accepted connection (default 30s).
func WithOpenTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("open timeout %s: must be positive", d)
		}
		c.openTimeout = d
		return nil
	}
}

// WithBufferSize sets the copy buffer of each direction of a connection
// (default 32 KiB; 4 KiB to 1 MiB).
func WithBufferSize(n int) Option {
	return func(c *config) error {
		if n < minBufferSize || n > maxBufferSize {
			return fmt.Errorf("buffer size %d: must be between %d and %d", n, minBufferSize, maxBufferSize)
		}
		c.bufSize = n
		return nil
	}
}

// WithDefaultAllow sets the policy of exposed tunnels created without an
// allow list: a peer for which allow reports true may connect. A node in a
// private network passes "is a member". Default: none, so such a tunnel
// accepts nobody.
func WithDefaultAllow(allow func(peer.ID) bool) Option {
	return func(c *config) error {
		if allow == nil {
			return errors.New("nil default allow function")
		}
		c.defaultAllow = allow
		return nil
	}
}

// WithConnect sets how a forwarding tunnel reaches its peer before opening
// a stream (the node passes its connect, which finds a peer through the DHT).
// Default: the host's own dial, with the addresses in the peerstore.
func WithConnect(connect func(ctx context.Context, p peer.ID) error) Option {
	return func(c *config) error {
		if connect == nil {
			return errors.New("nil connect function")
		}
		c.connect = connect
		return nil
	}
}
