package auth

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// User is an account, without its secrets.
type User struct {
	Name    string // canonical (NormalizeName)
	Role    Role
	Created time.Time
	Updated time.Time // the last change of password or role
}

// userRecord is a user as stored under /plexus/auth/users/<hex(name)>.
type userRecord struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Hash    string    `json:"hash"`  // argon2id PHC string
	Stamp   string    `json:"stamp"` // changes with the password; sessions and tokens carry it
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func (u *userRecord) user() User {
	return User{Name: u.Name, Role: u.Role, Created: u.Created, Updated: u.Updated}
}

func userKey(name string) datastore.Key {
	return usersKey.ChildString(hex.EncodeToString([]byte(name)))
}

// getUser loads a user by canonical name; an error wrapping ErrNoUser when
// there is none.
func (s *Service) getUser(ctx context.Context, name string) (*userRecord, error) {
	var u userRecord
	if err := s.get(ctx, userKey(name), &u); err != nil {
		if errors.Is(err, datastore.ErrNotFound) {
			return nil, fmt.Errorf("%w %q", ErrNoUser, name)
		}
		return nil, err
	}
	return &u, nil
}

// AddUser creates a user. The name is normalised (NormalizeName); an
// existing user answers ErrUserExists.
func (s *Service) AddUser(ctx context.Context, name, password string, role Role) (User, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	pw, err := normalizePassword(password, true)
	if err != nil {
		return User{}, err
	}
	if _, err := s.getUser(ctx, n); err == nil { // fail early, without hashing
		return User{}, fmt.Errorf("user %q: %w", n, ErrUserExists)
	}
	var hash string
	if err := s.withHashSlot(ctx, func() { hash = hashPassword(pw, s.cfg.params) }); err != nil {
		return User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.getUser(ctx, n); err == nil {
		return User{}, fmt.Errorf("user %q: %w", n, ErrUserExists)
	} else if !errors.Is(err, ErrNoUser) {
		return User{}, err
	}
	count, err := s.count(ctx, usersKey)
	if err != nil {
		return User{}, err
	}
	if count >= MaxUsers {
		return User{}, fmt.Errorf("%w: this node has %d users, the most it keeps", ErrLimit, count)
	}
	now := s.cfg.now().UTC()
	u := &userRecord{Name: n, Role: role, Hash: hash, Stamp: randomHex(16), Created: now, Updated: now}
	if err := s.put(ctx, userKey(n), u); err != nil {
		return User{}, err
	}
	s.log.Info("user added", "user", n, "role", role)
	return u.user(), nil
}

// Register creates a viewer account for an unauthenticated client (open
// registration). Registrations are rate-limited per client address like
// failed logins: 5 free, then an exponential wait.
func (s *Service) Register(ctx context.Context, name, password, client string) (User, error) {
	key := clientKey(client)
	now := s.cfg.now()
	if d := s.regs.wait(key, now); d > 0 {
		return User{}, &RateLimitError{What: "registration", RetryAfter: d}
	}
	u, err := s.AddUser(ctx, name, password, RoleViewer)
	if err == nil || errors.Is(err, ErrUserExists) {
		s.regs.fail(key, now) // every attempt that reached the store counts
	}
	return u, err
}

// Users lists every user by name.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := s.each(ctx, usersKey, func(_ datastore.Key, b []byte) error {
		var u userRecord
		if err := json.Unmarshal(b, &u); err != nil {
			return fmt.Errorf("auth: corrupt user entry: %w", err)
		}
		out = append(out, u.user())
		return nil
	})
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

// User returns one user.
func (s *Service) User(ctx context.Context, name string) (User, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return User{}, err
	}
	u, err := s.getUser(ctx, n)
	if err != nil {
		return User{}, err
	}
	return u.user(), nil
}

// DeleteUser removes a user with its sessions and tokens.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	n, err := NormalizeName(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.getUser(ctx, n); err != nil {
		return err
	}
	if err := s.del(ctx, userKey(n)); err != nil {
		return err
	}
	sessions, tokens, err := s.revokeAll(ctx, n)
	s.log.Info("user deleted", "user", n, "sessions_revoked", sessions, "tokens_revoked", tokens)
	return err
}

// SetPassword replaces a user's password (an admin's action) and revokes
// every session and token of the user.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	n, err := NormalizeName(name)
	if err != nil {
		return err
	}
	pw, err := normalizePassword(password, true)
	if err != nil {
		return err
	}
	if _, err := s.getUser(ctx, n); err != nil {
		return err
	}
	var hash string
	if err := s.withHashSlot(ctx, func() { hash = hashPassword(pw, s.cfg.params) }); err != nil {
		return err
	}
	return s.storePassword(ctx, n, hash)
}

// ChangePassword replaces the password of a user who proves the current
// one (self-service). A wrong current password counts as a failed login
// for the user and the client. Every session and token of the user is
// revoked, the caller's own included.
func (s *Service) ChangePassword(ctx context.Context, name, current, password, client string) error {
	n, err := NormalizeName(name)
	if err != nil {
		return err
	}
	pw, err := normalizePassword(password, true)
	if err != nil {
		return err
	}
	if _, err := s.checkPassword(ctx, n, current, client); err != nil {
		return err
	}
	var hash string
	if err := s.withHashSlot(ctx, func() { hash = hashPassword(pw, s.cfg.params) }); err != nil {
		return err
	}
	return s.storePassword(ctx, n, hash)
}

// storePassword writes a new hash and stamp for user n, then revokes the
// user's sessions and tokens.
func (s *Service) storePassword(ctx context.Context, n, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.getUser(ctx, n)
	if err != nil {
		return err
	}
	u.Hash, u.Stamp, u.Updated = hash, randomHex(16), s.cfg.now().UTC()
	if err := s.put(ctx, userKey(n), u); err != nil {
		return err
	}
	sessions, tokens, err := s.revokeAll(ctx, n)
	s.log.Info("password changed", "user", n, "sessions_revoked", sessions, "tokens_revoked", tokens)
	return err
}

// SetRole changes a user's role. Sessions and tokens keep working with the
// new role: a token's role is never above its owner's current one.
func (s *Service) SetRole(ctx context.Context, name string, role Role) (User, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.getUser(ctx, n)
	if err != nil {
		return User{}, err
	}
	if u.Role != role {
		u.Role, u.Updated = role, s.cfg.now().UTC()
		if err := s.put(ctx, userKey(n), u); err != nil {
			return User{}, err
		}
		s.log.Info("role changed", "user", n, "role", role)
	}
	return u.user(), nil
}

// checkPassword verifies a user's password with the login rate limits and
// returns the user. Unknown users cost one argon2id computation too (a
// dummy hash) and answer the same ErrBadCredentials as a wrong password.
func (s *Service) checkPassword(ctx context.Context, n, password, client string) (*userRecord, error) {
	pw, err := normalizePassword(password, false)
	if err != nil {
		return nil, err
	}
	addr := clientKey(client)
	if err := s.limited(n, addr); err != nil { // refuse early, without waiting for a slot
		return nil, err
	}
	dummy := s.dummyHash()
	var u *userRecord
	var ok bool
	var params Params
	var verr error
	err = s.withHashSlot(ctx, func() {
		// Check again and record the outcome inside the slot: failures of
		// the attempts that held it before count, so parallel guesses gain
		// nothing beyond the slot count.
		if verr = s.limited(n, addr); verr != nil {
			return
		}
		hash := dummy
		if u, verr = s.getUser(ctx, n); errors.Is(verr, ErrNoUser) {
			u, verr = nil, nil // unknown: verify the dummy, which never matches
		} else if verr != nil {
			return
		} else {
			hash = u.Hash
		}
		if ok, params, verr = verifyPassword(pw, hash); verr != nil {
			verr = fmt.Errorf("auth: password hash of user %q: %w", n, verr)
			return
		}
		now := s.cfg.now()
		if ok && u != nil {
			s.logins.reset(n)
			return
		}
		wu, wa := s.logins.fail(n, now), s.addrs.fail(addr, now)
		if d := max(wu, wa); d > 0 {
			s.log.Warn("failed login: backing off", "user", n, "client", addr, "wait", d)
		} else {
			s.log.Info("failed login", "user", n, "client", addr)
		}
	})
	if err == nil {
		err = verr
	}
	if err != nil {
		return nil, err
	}
	if !ok || u == nil {
		return nil, ErrBadCredentials
	}
	if params != s.cfg.params { // stored with older parameters: upgrade
		var hash string
		if err := s.withHashSlot(ctx, func() { hash = hashPassword(pw, s.cfg.params) }); err == nil {
			s.rehash(ctx, n, u.Hash, hash)
		}
	}
	return u, nil
}

// limited returns a *RateLimitError when user n or client addr must wait.
func (s *Service) limited(n, addr string) error {
	now := s.cfg.now()
	if d := max(s.logins.wait(n, now), s.addrs.wait(addr, now)); d > 0 {
		return &RateLimitError{What: "login", RetryAfter: d}
	}
	return nil
}

// rehash replaces a user's hash by one with the current parameters, unless
// the password changed meanwhile. The stamp stays: it is the same password.
func (s *Service) rehash(ctx context.Context, n, old, hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.getUser(ctx, n)
	if err != nil || u.Hash != old {
		return
	}
	u.Hash = hash
	if err := s.put(ctx, userKey(n), u); err != nil {
		s.log.Warn("upgrading a password hash failed", "user", n, "err", err)
	}
}

// dummyHash returns the hash verified for unknown users, made once with
// the current parameters from a random password.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy = hashPassword(randomHex(16), s.cfg.params) })
	return s.dummy
}

// count returns the number of entries under prefix.
func (s *Service) count(ctx context.Context, prefix datastore.Key) (int, error) {
	n := 0
	err := s.each(ctx, prefix, func(datastore.Key, []byte) error { n++; return nil })
	return n, err
}

// each calls fn for every entry under prefix.
func (s *Service) each(ctx context.Context, prefix datastore.Key, fn func(k datastore.Key, v []byte) error) error {
	res, err := s.ds.Query(ctx, query.Query{Prefix: prefix.String()})
	if err != nil {
		return fmt.Errorf("auth: list %s: %w", prefix, err)
	}
	entries, err := res.Rest()
	if err != nil {
		return fmt.Errorf("auth: list %s: %w", prefix, err)
	}
	for _, e := range entries {
		if err := fn(datastore.NewKey(e.Key), e.Value); err != nil {
			return err
		}
	}
	return nil
}
