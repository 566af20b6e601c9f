// Package auth keeps the user accounts of a node's HTTP API: users with a
// role (admin or viewer) and an argon2id password hash, login sessions with
// a sliding expiry, and per-user API tokens with a role and an expiry. It
// speaks no libp2p protocol; package api authenticates requests with it.
//
// Everything lives in the node's datastore under /plexus/auth/ (users/,
// sessions/, tokens/), written with a sync so that an acknowledged change
// survives a crash. Secrets are never stored or logged: a session ID and a
// token's secret are kept as their SHA-256 (they are 256-bit random values,
// so a fast hash suffices); a password as an argon2id hash in the PHC string
// format with its per-user salt and parameters. Every session and token
// records the owner's credential stamp, which changes with each password
// change: a new password, or a deleted user, revokes them all at once.
//
// Usernames follow RFC 8265's UsernameCaseMapped profile (PRECIS): width
// folding, lower case, Unicode NFC, letters, digits and ASCII punctuation
// only (no spaces, control or bidirectional-override characters), so that
// "Zoë", "zoë" and "zoe\u0308" are one user. Passwords follow RFC 8265's
// OpaqueString profile (NFC, other spaces mapped to ASCII space). See
// names.go for the limits.
//
// Logins are rate-limited per user and per client address (limiter.go): 5
// failures are free, then each failure doubles the wait, from 1s up to 15
// minutes. A login for an unknown user hashes the password against a dummy
// hash, so it costs what a wrong password costs and answers the same error.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"

	"github.com/plexus-p2p/plexus/config"
)

// Role is what a user, a session or a token may do.
type Role string

// The roles, from the least to the most allowed.
const (
	// RoleViewer may call the API's read routes and manage its own
	// password, session and tokens.
	RoleViewer Role = "viewer"
	// RoleAdmin may call every route.
	RoleAdmin Role = "admin"
)

// ParseRole parses "admin" or "viewer".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("%w %q: want %q or %q", ErrInvalidRole, s, RoleAdmin, RoleViewer)
}

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Covers reports whether r allows what need allows (admin covers viewer).
func (r Role) Covers(need Role) bool { return r.rank() >= need.rank() && r.rank() > 0 }

// lower returns the less allowed of two roles.
func lower(a, b Role) Role {
	if a.rank() <= b.rank() {
		return a
	}
	return b
}

// Errors, for errors.Is; the API maps each to an HTTP status.
var (
	ErrInvalidName     = errors.New("invalid username")
	ErrInvalidPassword = errors.New("invalid password")
	ErrInvalidRole     = errors.New("invalid role")
	ErrInvalidTTL      = errors.New("invalid token lifetime")
	ErrInvalidLabel    = errors.New("invalid token name")
	ErrUserExists      = errors.New("user already exists")
	ErrNoUser          = errors.New("no such user")
	ErrNoToken         = errors.New("no such token")
	ErrLimit           = errors.New("limit reached")
	// ErrBadCredentials is the one answer to a wrong username or a wrong
	// password.
	ErrBadCredentials = errors.New("wrong username or password")
	// ErrUnauthenticated wraps a session or token that is malformed,
	// unknown, expired or revoked.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrRoleTooHigh is returned for a token whose role is above its owner's.
	ErrRoleTooHigh = errors.New("role above the owner's")
	// ErrRateLimited is matched by every *RateLimitError.
	ErrRateLimited = errors.New("rate limited")
)

// RateLimitError says how long a client must wait before trying again.
type RateLimitError struct {
	What       string // "login" or "registration"
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many %s attempts: try again in %s", e.What, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) match.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Limits of the store.
const (
	MaxUsers           = 10000 // accounts on one node
	MaxSessionsPerUser = 50    // a new login ends the user's least recently used session beyond this
	MaxTokensPerUser   = 100
)

// Datastore layout.
var (
	// Namespace is the prefix of every key this package writes.
	Namespace   = datastore.NewKey("/plexus/auth")
	usersKey    = Namespace.ChildString("users")
	sessionsKey = Namespace.ChildString("sessions")
	tokensKey   = Namespace.ChildString("tokens")
)

// Service keeps the accounts in a datastore. It starts no goroutines; it is
// safe for concurrent use.
type Service struct {
	ds   datastore.Datastore
	cfg  options
	log  *slog.Logger
	mu   sync.Mutex    // serialises every write, so a check and the write after it are one step
	hash chan struct{} // slots for argon2 computations: bounds their CPU and memory

	logins, addrs, regs *limiter // failed logins per user and per address; registrations per address

	dummyOnce sync.Once
	dummy     string // hash of a random password, verified for unknown users
}

type options struct {
	params     Params
	sessionTTL time.Duration
	hashSlots  int
	now        func() time.Time
	logger     *slog.Logger
}

// Option configures a Service.
type Option func(*options) error

// WithParams sets the argon2id parameters of new password hashes. Default
// DefaultParams. Tests use small ones; production keeps the default.
func WithParams(p Params) Option {
	return func(o *options) error {
		if err := p.check(); err != nil {
			return fmt.Errorf("auth: argon2id parameters: %w", err)
		}
		o.params = p
		return nil
	}
}

// WithSessionTTL sets how long a session lasts without use. Default
// config.DefaultSessionTTL (7 days); bounds config.CheckSessionTTL.
func WithSessionTTL(d time.Duration) Option {
	return func(o *options) error {
		if err := config.CheckSessionTTL(d); err != nil {
			return fmt.Errorf("auth: session TTL: %w", err)
		}
		o.sessionTTL = d
		return nil
	}
}

// WithHashConcurrency bounds the argon2id computations that run at once
// (each holds Params.Memory). Default: the number of CPUs, at most 4.
func WithHashConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("auth: hash concurrency %d is outside 1..64", n)
		}
		o.hashSlots = n
		return nil
	}
}

// WithClock replaces time.Now (for tests of expiry and backoff).
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("auth: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithLogger sets the logger. Default: slog.Default() with component=auth.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l != nil {
			o.logger = l
		}
		return nil
	}
}

// New returns the accounts kept in ds under Namespace.
func New(ds datastore.Datastore, opts ...Option) (*Service, error) {
	if ds == nil {
		return nil, errors.New("auth: a datastore is required")
	}
	o := options{params: DefaultParams, sessionTTL: config.DefaultSessionTTL,
		hashSlots: min(runtime.NumCPU(), 4), now: time.Now, logger: slog.Default()}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	return &Service{ds: ds, cfg: o, log: o.logger.With("component", "auth"),
		hash:   make(chan struct{}, o.hashSlots),
		logins: newLimiter(loginLimits), addrs: newLimiter(loginLimits), regs: newLimiter(loginLimits)}, nil
}

// SessionTTL returns how long a session lasts without use.
func (s *Service) SessionTTL() time.Duration { return s.cfg.sessionTTL }

// withHashSlot runs fn while holding one of the argon2 slots.
func (s *Service) withHashSlot(ctx context.Context, fn func()) error {
	select {
	case s.hash <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hash }()
	fn()
	return nil
}

// put stores v as JSON under k and syncs it.
func (s *Service) put(ctx context.Context, k datastore.Key, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.ds.Put(ctx, k, b); err != nil {
		return fmt.Errorf("auth: store %s: %w", k, err)
	}
	if err := s.ds.Sync(ctx, k); err != nil {
		return fmt.Errorf("auth: sync %s: %w", k, err)
	}
	return nil
}

// get decodes the JSON under k into v; datastore.ErrNotFound when absent.
func (s *Service) get(ctx context.Context, k datastore.Key, v any) error {
	b, err := s.ds.Get(ctx, k)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("auth: corrupt entry %s: %w", k, err)
	}
	return nil
}

// del removes k and syncs; a missing key is not an error.
func (s *Service) del(ctx context.Context, k datastore.Key) error {
	if err := s.ds.Delete(ctx, k); err != nil && !errors.Is(err, datastore.ErrNotFound) {
		return fmt.Errorf("auth: delete %s: %w", k, err)
	}
	if err := s.ds.Sync(ctx, k); err != nil {
		return fmt.Errorf("auth: sync %s: %w", k, err)
	}
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// isHex reports whether s is lower-case hex of length n.
func isHex(s string, n int) bool {
	return len(s) == n && strings.Trim(s, "0123456789abcdef") == ""
}
