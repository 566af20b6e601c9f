package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ipfs/go-datastore"
)

// Session is a login session, as answered once by Login.
type Session struct {
	ID        string // the secret: the session cookie's value
	CSRFToken string // what the browser sends in X-CSRF-Token with mutating requests
	User      string
	Role      Role
	Expires   time.Time // unless used before then
}

// Via says how a request authenticated.
type Via string

// The ways to authenticate as a user.
const (
	ViaSession Via = "session"
	ViaToken   Via = "token"
)

// Identity is who a request acts as.
type Identity struct {
	User    string
	Role    Role // what this session or token may do now: never above the user's current role
	Via     Via
	Expires time.Time // of the session (after this use) or the token
	TokenID string    // the token's ID when Via is ViaToken
	// Refreshed reports that this use extended the session's expiry: a
	// browser's cookie should be set again with the new lifetime.
	Refreshed bool
}

// sessionRecord is a session as stored under
// /plexus/auth/sessions/<hex(sha256(ID))>.
type sessionRecord struct {
	User     string    `json:"user"`
	Stamp    string    `json:"stamp"` // the user's stamp at login
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
}

const sessionIDBytes = 32

func sessionKey(id string) datastore.Key {
	sum := sha256.Sum256([]byte(id))
	return sessionsKey.ChildString(hex.EncodeToString(sum[:]))
}

// validSessionID reports whether id has the form Login makes: 32 bytes in
// unpadded base64url.
func validSessionID(id string) bool {
	b, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil && len(b) == sessionIDBytes
}

// CSRFToken returns the anti-CSRF token of a session: an HMAC of a fixed
// label keyed with the session's secret ID. A page that cannot read the
// HttpOnly cookie cannot compute it, and the server needs to store nothing.
func CSRFToken(sessionID string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte("plexus csrf token v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether token is the CSRF token of the session.
func CheckCSRF(sessionID, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(CSRFToken(sessionID)), []byte(token)) == 1
}

// Login checks a username and password and opens a session. client is the
// caller's address ("host:port"), for the rate limit. A wrong name and a
// wrong password answer the same ErrBadCredentials after the same work; a
// client or user that failed too often gets a *RateLimitError without any
// check. A user keeps at most MaxSessionsPerUser sessions: a new login
// ends the least recently used one beyond that.
func (s *Service) Login(ctx context.Context, name, password, client string) (Session, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return Session{}, err
	}
	u, err := s.checkPassword(ctx, n, password, client)
	if err != nil {
		return Session{}, err
	}
	raw := make([]byte, sessionIDBytes)
	rand.Read(raw)
	id := base64.RawURLEncoding.EncodeToString(raw)
	now := s.cfg.now().UTC()
	rec := sessionRecord{User: n, Stamp: u.Stamp, Created: now, LastSeen: now, Expires: now.Add(s.cfg.sessionTTL)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.put(ctx, sessionKey(id), rec); err != nil {
		return Session{}, err
	}
	if err := s.pruneSessions(ctx, n, now); err != nil {
		s.log.Warn("pruning sessions failed", "err", err)
	}
	s.log.Info("login", "user", n, "client", clientKey(client))
	return Session{ID: id, CSRFToken: CSRFToken(id), User: n, Role: u.Role, Expires: rec.Expires}, nil
}

// pruneSessions deletes every expired session and user n's least recently
// used sessions beyond MaxSessionsPerUser. The caller holds s.mu.
func (s *Service) pruneSessions(ctx context.Context, n string, now time.Time) error {
	type entry struct {
		k    datastore.Key
		seen time.Time
	}
	var mine []entry
	var drop []datastore.Key
	err := s.each(ctx, sessionsKey, func(k datastore.Key, b []byte) error {
		var r sessionRecord
		if json.Unmarshal(b, &r) != nil || !now.Before(r.Expires) {
			drop = append(drop, k)
		} else if r.User == n {
			mine = append(mine, entry{k, r.LastSeen})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(mine) > MaxSessionsPerUser {
		slices.SortFunc(mine, func(a, b entry) int { return a.seen.Compare(b.seen) })
		for _, e := range mine[:len(mine)-MaxSessionsPerUser] {
			drop = append(drop, e.k)
		}
	}
	for _, k := range drop {
		if err := s.del(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// Session authenticates a session ID (a cookie's value) and extends its
// expiry (sliding, at most once a minute). Errors wrap ErrUnauthenticated
// when the ID is malformed, unknown, expired, logged out or revoked.
func (s *Service) Session(ctx context.Context, id string) (Identity, error) {
	if !validSessionID(id) {
		return Identity{}, fmt.Errorf("%w: malformed session cookie", ErrUnauthenticated)
	}
	k := sessionKey(id)
	var rec sessionRecord
	if err := s.get(ctx, k, &rec); err != nil {
		if errors.Is(err, datastore.ErrNotFound) {
			return Identity{}, fmt.Errorf("%w: unknown session (logged out, revoked or expired)", ErrUnauthenticated)
		}
		return Identity{}, err
	}
	now := s.cfg.now().UTC()
	if !now.Before(rec.Expires) {
		s.dropSession(ctx, k)
		return Identity{}, fmt.Errorf("%w: session expired", ErrUnauthenticated)
	}
	u, err := s.getUser(ctx, rec.User)
	if errors.Is(err, ErrNoUser) || (err == nil && u.Stamp != rec.Stamp) {
		s.dropSession(ctx, k)
		return Identity{}, fmt.Errorf("%w: session revoked (the user was deleted or changed password)", ErrUnauthenticated)
	}
	if err != nil {
		return Identity{}, err
	}
	id2 := Identity{User: u.Name, Role: u.Role, Via: ViaSession, Expires: rec.Expires}
	if now.Sub(rec.LastSeen) < min(time.Minute, s.cfg.sessionTTL/10) {
		return id2, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read again under the lock: a logout or revocation may have removed
	// the session meanwhile, and must not be undone.
	if err := s.get(ctx, k, &rec); err != nil {
		if errors.Is(err, datastore.ErrNotFound) {
			return Identity{}, fmt.Errorf("%w: session ended", ErrUnauthenticated)
		}
		return Identity{}, err
	}
	rec.LastSeen, rec.Expires = now, now.Add(s.cfg.sessionTTL)
	if err := s.put(ctx, k, rec); err != nil {
		return Identity{}, err
	}
	id2.Expires, id2.Refreshed = rec.Expires, true
	return id2, nil
}

// dropSession deletes a dead session, logging a failure.
func (s *Service) dropSession(ctx context.Context, k datastore.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.del(ctx, k); err != nil {
		s.log.Warn("deleting a dead session failed", "err", err)
	}
}

// Logout ends a session. Ending one that is already gone is not an error.
func (s *Service) Logout(ctx context.Context, id string) error {
	if !validSessionID(id) {
		return fmt.Errorf("%w: malformed session cookie", ErrUnauthenticated)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.del(ctx, sessionKey(id))
}

// revokeAll deletes every session and token of user n and returns how many.
// The caller holds s.mu.
func (s *Service) revokeAll(ctx context.Context, n string) (sessions, tokens int, err error) {
	var drop []datastore.Key
	err = s.each(ctx, sessionsKey, func(k datastore.Key, b []byte) error {
		var r sessionRecord
		if json.Unmarshal(b, &r) != nil || r.User == n {
			drop = append(drop, k)
			sessions++
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	err = s.each(ctx, tokensKey, func(k datastore.Key, b []byte) error {
		var r tokenRecord
		if json.Unmarshal(b, &r) != nil || r.User == n {
			drop = append(drop, k)
			tokens++
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	for _, k := range drop {
		if err := s.del(ctx, k); err != nil {
			return sessions, tokens, err
		}
	}
	return sessions, tokens, nil
}
