package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-datastore"
)

// Token lifetimes.
const (
	DefaultTokenTTL = 30 * 24 * time.Hour // 720h
	MinTokenTTL     = time.Minute
	MaxTokenTTL     = 365 * 24 * time.Hour
)

// TokenPrefix starts every user API token: "plx_<id>_<secret>" with a
// 16-hex-digit ID and a 64-hex-digit (256-bit) secret. The prefix tells a
// user token from the repo's api.token and lets secret scanners find one.
const TokenPrefix = "plx_"

const (
	tokenIDHex     = 16
	tokenSecretHex = 64
)

// Token is a user's API token, without its secret.
type Token struct {
	ID      string
	User    string
	Name    string // the owner's label, optional
	Role    Role   // at most the owner's role
	Created time.Time
	Expires time.Time
}

// NewToken is a token as created: the only time its secret is known.
type NewToken struct {
	Token
	Secret string // "plx_<id>_<secret>", the bearer token
}

// tokenRecord is a token as stored under /plexus/auth/tokens/<id>.
type tokenRecord struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Name    string    `json:"name,omitempty"`
	Role    Role      `json:"role"`
	Stamp   string    `json:"stamp"` // the user's stamp at creation
	Hash    string    `json:"hash"`  // hex SHA-256 of the secret part
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

func (r *tokenRecord) token() Token {
	return Token{ID: r.ID, User: r.User, Name: r.Name, Role: r.Role, Created: r.Created, Expires: r.Expires}
}

func tokenKey(id string) datastore.Key { return tokensKey.ChildString(id) }

func secretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CheckTokenTTL reports whether d is a valid token lifetime:
// [MinTokenTTL, MaxTokenTTL].
func CheckTokenTTL(d time.Duration) error {
	if d < MinTokenTTL || d > MaxTokenTTL {
		return fmt.Errorf("%w: %s is outside [%s, %s]", ErrInvalidTTL, d, MinTokenTTL, MaxTokenTTL)
	}
	return nil
}

// TokenSpec describes a token to create.
type TokenSpec struct {
	User string        // the owner (required)
	Role Role          // empty: the owner's role; never above it
	TTL  time.Duration // lifetime; 0: DefaultTokenTTL
	Name string        // an optional label
	// NotAfter, when set, caps the expiry: a token created by a request
	// that a token authenticated never outlives that token.
	NotAfter time.Time
}

// CreateToken makes an API token. The secret is in the answer only: it is
// stored hashed.
func (s *Service) CreateToken(ctx context.Context, spec TokenSpec) (NewToken, error) {
	n, err := NormalizeName(spec.User)
	if err != nil {
		return NewToken{}, err
	}
	role, ttl, name := spec.Role, spec.TTL, spec.Name
	if role != "" {
		if _, err := ParseRole(string(role)); err != nil {
			return NewToken{}, err
		}
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if err := CheckTokenTTL(ttl); err != nil {
		return NewToken{}, err
	}
	if err := checkLabel(name); err != nil {
		return NewToken{}, err
	}
	now := s.cfg.now().UTC()
	expires := now.Add(ttl)
	if !spec.NotAfter.IsZero() && expires.After(spec.NotAfter) {
		if expires = spec.NotAfter.UTC(); expires.Sub(now) < MinTokenTTL {
			return NewToken{}, fmt.Errorf("%w: the token that authenticates this request expires at %s, too soon for another",
				ErrInvalidTTL, spec.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.getUser(ctx, n)
	if err != nil {
		return NewToken{}, err
	}
	if role == "" {
		role = u.Role
	}
	if !u.Role.Covers(role) {
		return NewToken{}, fmt.Errorf("token role %s for %s, who is a %s: %w", role, n, u.Role, ErrRoleTooHigh)
	}
	mine, err := s.liveTokens(ctx, n, now)
	if err != nil {
		return NewToken{}, err
	}
	if len(mine) >= MaxTokensPerUser {
		return NewToken{}, fmt.Errorf("%w: %s has %d tokens, the most one user keeps: revoke one first", ErrLimit, n, len(mine))
	}
	id, secret := randomHex(tokenIDHex/2), randomHex(tokenSecretHex/2)
	rec := &tokenRecord{ID: id, User: n, Name: name, Role: role, Stamp: u.Stamp, Hash: secretHash(secret),
		Created: now, Expires: expires}
	if err := s.put(ctx, tokenKey(id), rec); err != nil {
		return NewToken{}, err
	}
	s.log.Info("token created", "user", n, "token", id, "role", role, "expires", rec.Expires)
	return NewToken{Token: rec.token(), Secret: TokenPrefix + id + "_" + secret}, nil
}

// Tokens lists the live tokens of user (every user's when user is ""),
// newest first.
func (s *Service) Tokens(ctx context.Context, user string) ([]Token, error) {
	n := ""
	if user != "" {
		var err error
		if n, err = NormalizeName(user); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.liveTokens(ctx, n, s.cfg.now())
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(recs))
	for i, r := range recs {
		out[i] = r.token()
	}
	slices.SortFunc(out, func(a, b Token) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// liveTokens returns the unexpired tokens of user n (all when n is ""),
// deleting the expired ones it meets. The caller holds s.mu.
func (s *Service) liveTokens(ctx context.Context, n string, now time.Time) ([]*tokenRecord, error) {
	var live []*tokenRecord
	var dead []datastore.Key
	err := s.each(ctx, tokensKey, func(k datastore.Key, b []byte) error {
		r := &tokenRecord{}
		if err := json.Unmarshal(b, r); err != nil {
			return fmt.Errorf("auth: corrupt token entry %s: %w", k, err)
		}
		switch {
		case !now.Before(r.Expires):
			dead = append(dead, k)
		case n == "" || r.User == n:
			live = append(live, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range dead {
		if err := s.del(ctx, k); err != nil {
			return nil, err
		}
	}
	return live, nil
}

// RevokeToken deletes a token. With owner set, only a token of that user
// is found: another user's token answers ErrNoToken, like a missing one.
func (s *Service) RevokeToken(ctx context.Context, id, owner string) (Token, error) {
	if !isHex(id, tokenIDHex) {
		return Token{}, fmt.Errorf("%w %s: a token ID is %d hex digits (see the token list)", ErrNoToken, quoteName(id), tokenIDHex)
	}
	if owner != "" {
		var err error
		if owner, err = NormalizeName(owner); err != nil {
			return Token{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var r tokenRecord
	if err := s.get(ctx, tokenKey(id), &r); err != nil {
		if errors.Is(err, datastore.ErrNotFound) {
			return Token{}, fmt.Errorf("%w %s", ErrNoToken, id)
		}
		return Token{}, err
	}
	if owner != "" && r.User != owner {
		return Token{}, fmt.Errorf("%w %s", ErrNoToken, id)
	}
	if err := s.del(ctx, tokenKey(id)); err != nil {
		return Token{}, err
	}
	s.log.Info("token revoked", "user", r.User, "token", id)
	return r.token(), nil
}

// AuthenticateToken checks a bearer token ("plx_..."). Errors wrap
// ErrUnauthenticated when it is malformed, unknown, revoked or expired, or
// its owner was deleted or changed password. The identity's role is the
// lower of the token's and the owner's current role.
func (s *Service) AuthenticateToken(ctx context.Context, token string) (Identity, error) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || !isHex(id, tokenIDHex) || !isHex(secret, tokenSecretHex) {
		return Identity{}, fmt.Errorf("%w: malformed API token (want %s<id>_<secret>)", ErrUnauthenticated, TokenPrefix)
	}
	unknown := fmt.Errorf("%w: unknown or revoked API token", ErrUnauthenticated)
	var r tokenRecord
	if err := s.get(ctx, tokenKey(id), &r); err != nil {
		if errors.Is(err, datastore.ErrNotFound) {
			return Identity{}, unknown
		}
		return Identity{}, err
	}
	if subtle.ConstantTimeCompare([]byte(secretHash(secret)), []byte(r.Hash)) != 1 {
		return Identity{}, unknown
	}
	if !s.cfg.now().Before(r.Expires) {
		return Identity{}, fmt.Errorf("%w: API token %s expired at %s", ErrUnauthenticated, id, r.Expires.Format(time.RFC3339))
	}
	u, err := s.getUser(ctx, r.User)
	if errors.Is(err, ErrNoUser) || (err == nil && u.Stamp != r.Stamp) {
		return Identity{}, unknown
	}
	if err != nil {
		return Identity{}, err
	}
	return Identity{User: u.Name, Role: lower(r.Role, u.Role), Via: ViaToken, Expires: r.Expires, TokenID: r.ID}, nil
}
