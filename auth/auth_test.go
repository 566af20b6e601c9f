package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	leveldb "github.com/ipfs/go-ds-leveldb"

	"github.com/plexus-p2p/plexus/auth"
)

// fast are argon2id parameters for tests only: production keeps
// auth.DefaultParams.
var fast = auth.Params{Memory: 64, Time: 1, Threads: 1}

var quiet = slog.New(slog.DiscardHandler)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newService returns accounts in a fresh in-memory datastore with fast
// hashing and a settable clock.
func newService(t testing.TB, opts ...auth.Option) (*auth.Service, datastore.Datastore, *clock) {
	t.Helper()
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	c := newClock()
	s, err := auth.New(ds, append([]auth.Option{auth.WithParams(fast), auth.WithClock(c.Now), auth.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, ds, c
}

const pw = "correct horse battery staple"

func addUser(t testing.TB, s *auth.Service, name string, role auth.Role) auth.User {
	t.Helper()
	u, err := s.AddUser(context.Background(), name, pw, role)
	if err != nil {
		t.Fatalf("add %q: %v", name, err)
	}
	return u
}

// dump returns every key and value stored under the auth namespace.
func dump(t *testing.T, ds datastore.Datastore) []byte {
	t.Helper()
	res, err := ds.Query(context.Background(), query.Query{Prefix: auth.Namespace.String()})
	if err != nil {
		t.Fatal(err)
	}
	all, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, e := range all {
		b.WriteString(e.Key + " " + string(e.Value) + "\n")
	}
	return b.Bytes()
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"alice":           "alice",
		"Alice":           "alice",
		"ZOË":             "zoë",
		"zoe\u0308":       "zoë",   // decomposed: NFC makes it the precomposed form
		"ａｌｉｃｅ":           "alice", // full width
		"bob@example.org": "bob@example.org",
		"δοκιμή":          "δοκιμή",
		"名前":              "名前",
	} {
		got, err := auth.NormalizeName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeName(%+q) = %+q, %v; want %+q", in, got, err, want)
		}
	}
	for name, in := range map[string]string{
		"empty":         "",
		"space only":    " ",
		"inner space":   "a b",
		"NUL":           "a\x00b",
		"escape":        "a\x1b[31m",
		"bidi override": "admin\u202egpj",
		"zero width":    "ad\u200bmin",
		"65 bytes":      strings.Repeat("a", 65),
		"10 kB":         strings.Repeat("a", 10<<10),
		"invalid UTF-8": "a\xffb",
	} {
		if got, err := auth.NormalizeName(in); !errors.Is(err, auth.ErrInvalidName) {
			t.Errorf("%s: NormalizeName = %+q, %v; want ErrInvalidName", name, got, err)
		} else if len(err.Error()) > 200 {
			t.Errorf("%s: error is %d bytes long", name, len(err.Error()))
		}
	}
	if _, err := auth.NormalizeName(strings.Repeat("a", 64)); err != nil {
		t.Errorf("64 bytes: %v", err)
	}
}

func TestAddUser(t *testing.T) {
	s, ds, _ := newService(t)
	ctx := context.Background()
	u := addUser(t, s, "Zoë", auth.RoleAdmin)
	if u.Name != "zoë" || u.Role != auth.RoleAdmin || u.Created.IsZero() {
		t.Fatalf("added %+v", u)
	}
	for _, same := range []string{"zoë", "ZOË", "zoe\u0308", "Zoe\u0308"} {
		if _, err := s.AddUser(ctx, same, pw, auth.RoleViewer); !errors.Is(err, auth.ErrUserExists) {
			t.Errorf("add %+q: %v, want ErrUserExists", same, err)
		}
	}
	for name, p := range map[string]string{
		"empty": "", "7 characters": "1234567", "10 kB": strings.Repeat("p", 10<<10), "control": "passw\x00rd!",
	} {
		if _, err := s.AddUser(ctx, "other", p, auth.RoleViewer); !errors.Is(err, auth.ErrInvalidPassword) {
			t.Errorf("password %s: %v, want ErrInvalidPassword", name, err)
		} else if p != "" && strings.Contains(err.Error(), p) {
			t.Errorf("password %s: the error shows the password", name)
		}
	}
	if _, err := s.AddUser(ctx, "other", pw, "root"); !errors.Is(err, auth.ErrInvalidRole) {
		t.Errorf("role root: %v", err)
	}
	if _, err := s.AddUser(ctx, strings.Repeat("n", 10<<10), pw, auth.RoleViewer); !errors.Is(err, auth.ErrInvalidName) {
		t.Errorf("10 kB name: %v", err)
	}
	// Unicode passwords: the composed and decomposed forms are one password.
	if _, err := s.AddUser(ctx, "élodie", "mot de passe très sûr", auth.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "E\u0301lodie", "mot de passe tre\u0300s su\u0302r", "127.0.0.1:1"); err != nil {
		t.Fatalf("login with the decomposed forms: %v", err)
	}

	users, err := s.Users(ctx)
	if err != nil || len(users) != 2 || users[0].Name != "zoë" || users[1].Name != "élodie" {
		t.Fatalf("users: %+v %v", users, err)
	}
	// The store holds PHC argon2id strings (parameters, salt, hash), never a password.
	stored := dump(t, ds)
	if bytes.Contains(stored, []byte(pw)) || bytes.Contains(stored, []byte("très")) {
		t.Fatal("a password is stored in clear")
	}
	if n := bytes.Count(stored, []byte(`$argon2id$v=19$m=64,t=1,p=1$`)); n != 2 {
		t.Fatalf("%d argon2id hashes with their parameters in %s", n, stored)
	}
}

func TestSaltPerUser(t *testing.T) {
	s, ds, _ := newService(t)
	addUser(t, s, "a", auth.RoleViewer)
	addUser(t, s, "b", auth.RoleViewer)
	var hashes []string
	for _, line := range strings.Split(string(dump(t, ds)), "\n") {
		if i := strings.Index(line, `"hash":"`); i >= 0 {
			h := line[i+8:]
			hashes = append(hashes, h[:strings.IndexByte(h, '"')])
		}
	}
	if len(hashes) != 2 || hashes[0] == hashes[1] {
		t.Fatalf("same password, hashes %q", hashes)
	}
}

func TestLogin(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleViewer)
	sess, err := s.Login(ctx, "ALICE", pw, "127.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	if sess.User != "alice" || sess.Role != auth.RoleViewer || sess.ID == "" || sess.CSRFToken != auth.CSRFToken(sess.ID) {
		t.Fatalf("session %+v", sess)
	}
	id, err := s.Session(ctx, sess.ID)
	if err != nil || id.User != "alice" || id.Via != auth.ViaSession || id.Role != auth.RoleViewer {
		t.Fatalf("session identity %+v %v", id, err)
	}
	if !auth.CheckCSRF(sess.ID, sess.CSRFToken) || auth.CheckCSRF(sess.ID, "") || auth.CheckCSRF(sess.ID, auth.CSRFToken("other")) {
		t.Fatal("CSRF check")
	}
	// A wrong password and an unknown user: the same error, word for word.
	_, wrongPW := s.Login(ctx, "alice", "not the password", "127.0.0.1:5000")
	_, noUser := s.Login(ctx, "mallory", "not the password", "127.0.0.1:5001")
	if !errors.Is(wrongPW, auth.ErrBadCredentials) || !errors.Is(noUser, auth.ErrBadCredentials) || wrongPW.Error() != noUser.Error() {
		t.Fatalf("wrong password: %v; unknown user: %v", wrongPW, noUser)
	}
	if _, err := s.Login(ctx, "alice", strings.Repeat("p", 10<<10), "127.0.0.1:5000"); !errors.Is(err, auth.ErrInvalidPassword) {
		t.Fatalf("10 kB password: %v", err)
	}
	if _, err := s.Login(ctx, "alice", "", "127.0.0.1:5000"); !errors.Is(err, auth.ErrInvalidPassword) {
		t.Fatalf("empty password: %v", err)
	}
	if _, err := s.Login(ctx, "", pw, "127.0.0.1:5000"); !errors.Is(err, auth.ErrInvalidName) {
		t.Fatalf("empty name: %v", err)
	}
}

func TestLoginRateLimit(t *testing.T) {
	s, _, c := newService(t)
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleAdmin)
	fail := func(user, addr string) error {
		t.Helper()
		_, err := s.Login(ctx, user, "wrong password", addr)
		return err
	}
	// Per user: 5 free failures, from different addresses.
	for i := range 5 {
		if err := fail("alice", fmt.Sprintf("10.0.0.%d:1", i+1)); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	// The 6th failure sets a wait of 1s, the next 2s, then 4s: doubling.
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if err := fail("alice", "10.0.1.1:1"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure after the wait: %v", err)
		}
		// Even the right password waits now, from any address.
		_, err := s.Login(ctx, "alice", pw, "10.0.2.1:1")
		var rl *auth.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != want || !errors.Is(err, auth.ErrRateLimited) {
			t.Fatalf("during backoff: %v, want a wait of %s", err, want)
		}
		c.Advance(want)
	}
	// After the wait the right password works and clears the user's count.
	if _, err := s.Login(ctx, "alice", pw, "10.0.2.1:1"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := fail("alice", "10.0.3.1:1"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatal(err)
		}
	}

	// Per address: failures for many names (existing or not) from one
	// address; an IPv6 /64 counts as one address.
	for i := range 6 {
		if err := fail(fmt.Sprintf("user%d", i), fmt.Sprintf("[2001:db8::%d]:1", i+1)); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if err := fail("someone", "[2001:db8::ffff]:9"); !errors.Is(err, auth.ErrRateLimited) {
		t.Fatalf("7th failure from the /64: %v", err)
	}
	if err := fail("someone", "[2001:db8:0:1::1]:9"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("another /64: %v", err)
	}
	// An unknown user backs off exactly like a known one.
	for i := range 6 {
		fail("nobody", fmt.Sprintf("10.1.0.%d:1", i+1))
	}
	var rl *auth.RateLimitError
	if err := fail("nobody", "10.1.1.1:1"); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("unknown user after 6 failures: %v", err)
	}
	// The wait is capped at 15 minutes.
	for i := range 30 {
		c.Advance(time.Hour)
		fail("nobody", fmt.Sprintf("10.2.0.%d:1", i+1))
	}
	if err := fail("nobody", "10.3.0.1:1"); !errors.As(err, &rl) || rl.RetryAfter != 15*time.Minute {
		t.Fatalf("after 36 failures: %v", err)
	}
}

func TestSessionSlidingExpiry(t *testing.T) {
	s, _, c := newService(t, auth.WithSessionTTL(time.Hour))
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleViewer)
	sess, err := s.Login(ctx, "alice", pw, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Now().Add(time.Hour); !sess.Expires.Equal(want) {
		t.Fatalf("expires %s, want %s", sess.Expires, want)
	}
	for range 3 { // used every 50 minutes: it lives on past its first hour
		c.Advance(50 * time.Minute)
		id, err := s.Session(ctx, sess.ID)
		if err != nil || !id.Refreshed || !id.Expires.Equal(c.Now().Add(time.Hour)) {
			t.Fatalf("after 50 minutes: %+v %v", id, err)
		}
	}
	c.Advance(time.Second) // used again at once: no write, same expiry
	if id, err := s.Session(ctx, sess.ID); err != nil || id.Refreshed {
		t.Fatalf("second use: %+v %v", id, err)
	}
	c.Advance(time.Hour)
	if _, err := s.Session(ctx, sess.ID); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("unused for an hour: %v", err)
	}
	if _, err := s.Session(ctx, sess.ID); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("expired session again: %v", err)
	}
}

func TestLogoutAndBadSessions(t *testing.T) {
	s, ds, _ := newService(t)
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleViewer)
	sess, err := s.Login(ctx, "alice", pw, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dump(t, ds), []byte(sess.ID)) {
		t.Fatal("the session ID is stored in clear")
	}
	if err := s.Logout(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, sess.ID); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("after logout: %v", err)
	}
	for _, bad := range []string{"", "x", "%%%", strings.Repeat("A", 43), strings.Repeat("A", 10<<10), sess.ID + "A"} {
		if _, err := s.Session(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("session %.20q: %v", bad, err)
		}
	}
}

func TestSessionsPerUserBounded(t *testing.T) {
	s, _, c := newService(t)
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleViewer)
	first, err := s.Login(ctx, "alice", pw, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for range auth.MaxSessionsPerUser {
		c.Advance(time.Second)
		if _, err := s.Login(ctx, "alice", pw, "127.0.0.1:1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Session(ctx, first.ID); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("the least recently used of %d sessions: %v", auth.MaxSessionsPerUser+1, err)
	}
}

func TestPasswordChangeRevokes(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleAdmin)
	addUser(t, s, "bob", auth.RoleViewer)
	sess, _ := s.Login(ctx, "alice", pw, "127.0.0.1:1")
	tok, err := s.CreateToken(ctx, auth.TokenSpec{User: "alice", Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	bobSess, _ := s.Login(ctx, "bob", pw, "127.0.0.1:1")

	if err := s.SetPassword(ctx, "alice", "a new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, sess.ID); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("session after the password change: %v", err)
	}
	if _, err := s.AuthenticateToken(ctx, tok.Secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("token after the password change: %v", err)
	}
	if ts, _ := s.Tokens(ctx, "alice"); len(ts) != 0 {
		t.Fatalf("tokens left: %+v", ts)
	}
	if _, err := s.Session(ctx, bobSess.ID); err != nil {
		t.Fatalf("another user's session: %v", err)
	}
	if _, err := s.Login(ctx, "alice", pw, "127.0.0.1:1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
	// Self-service: the current password is needed.
	if err := s.ChangePassword(ctx, "bob", "wrong one", "another password", "127.0.0.1:1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("change with a wrong current password: %v", err)
	}
	if err := s.ChangePassword(ctx, "bob", pw, "another password", "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, bobSess.ID); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("bob's session after his change: %v", err)
	}
	if _, err := s.Login(ctx, "bob", "another password", "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "nobody", "a new password"); !errors.Is(err, auth.ErrNoUser) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestDeleteUserRevokes(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleAdmin)
	sess, _ := s.Login(ctx, "alice", pw, "127.0.0.1:1")
	tok, _ := s.CreateToken(ctx, auth.TokenSpec{User: "alice", Role: auth.RoleViewer, TTL: time.Hour})
	if err := s.DeleteUser(ctx, "Alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "alice"); !errors.Is(err, auth.ErrNoUser) {
		t.Fatalf("second delete: %v", err)
	}
	// A new user of the same name does not inherit the old one's sessions.
	addUser(t, s, "alice", auth.RoleAdmin)
	if _, err := s.Session(ctx, sess.ID); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("deleted user's session: %v", err)
	}
	if _, err := s.AuthenticateToken(ctx, tok.Secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("deleted user's token: %v", err)
	}
}

func TestTokens(t *testing.T) {
	s, ds, c := newService(t)
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleAdmin)
	addUser(t, s, "bob", auth.RoleViewer)

	tok, err := s.CreateToken(ctx, auth.TokenSpec{User: "alice", Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Role != auth.RoleAdmin || tok.User != "alice" || tok.Name != "laptop" || !strings.HasPrefix(tok.Secret, auth.TokenPrefix) ||
		!tok.Expires.Equal(c.Now().Add(auth.DefaultTokenTTL)) {
		t.Fatalf("token %+v", tok)
	}
	secret := tok.Secret[strings.LastIndexByte(tok.Secret, '_')+1:]
	if bytes.Contains(dump(t, ds), []byte(secret)) {
		t.Fatal("the token's secret is stored in clear")
	}
	id, err := s.AuthenticateToken(ctx, tok.Secret)
	if err != nil || id.User != "alice" || id.Role != auth.RoleAdmin || id.Via != auth.ViaToken || id.TokenID != tok.ID {
		t.Fatalf("identity %+v %v", id, err)
	}
	// Never above the owner's role; bad lifetimes and names.
	if _, err := s.CreateToken(ctx, auth.TokenSpec{User: "bob", Role: auth.RoleAdmin}); !errors.Is(err, auth.ErrRoleTooHigh) {
		t.Fatalf("admin token for a viewer: %v", err)
	}
	for _, ttl := range []time.Duration{-time.Hour, time.Second, auth.MaxTokenTTL + time.Hour} {
		if _, err := s.CreateToken(ctx, auth.TokenSpec{User: "bob", TTL: ttl}); !errors.Is(err, auth.ErrInvalidTTL) {
			t.Fatalf("ttl %s: %v", ttl, err)
		}
	}
	if _, err := s.CreateToken(ctx, auth.TokenSpec{User: "bob", Name: "a\x1bb"}); !errors.Is(err, auth.ErrInvalidLabel) {
		t.Fatalf("control character in the name: %v", err)
	}
	if _, err := s.CreateToken(ctx, auth.TokenSpec{User: "nobody"}); !errors.Is(err, auth.ErrNoUser) {
		t.Fatalf("unknown owner: %v", err)
	}
	// A demoted owner's admin token acts as a viewer.
	if _, err := s.SetRole(ctx, "alice", auth.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if id, err := s.AuthenticateToken(ctx, tok.Secret); err != nil || id.Role != auth.RoleViewer {
		t.Fatalf("after demotion: %+v %v", id, err)
	}
	// Malformed, forged and wrong secrets.
	forged := tok.Secret[:len(tok.Secret)-1] + "0"
	if forged == tok.Secret {
		forged = tok.Secret[:len(tok.Secret)-1] + "1"
	}
	for _, bad := range []string{"", "plx_", "plx_zz_zz", forged, strings.Repeat("x", 10<<10)} {
		if _, err := s.AuthenticateToken(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("token %.20q: %v", bad, err)
		}
	}

	// Capped by NotAfter; not when it leaves less than a minute.
	capped, err := s.CreateToken(ctx, auth.TokenSpec{User: "bob", NotAfter: c.Now().Add(time.Hour)})
	if err != nil || !capped.Expires.Equal(c.Now().Add(time.Hour)) {
		t.Fatalf("capped: %+v %v", capped, err)
	}
	if _, err := s.CreateToken(ctx, auth.TokenSpec{User: "bob", NotAfter: c.Now().Add(time.Second)}); !errors.Is(err, auth.ErrInvalidTTL) {
		t.Fatalf("capped below a minute: %v", err)
	}
	if _, err := s.RevokeToken(ctx, capped.ID, "bob"); err != nil {
		t.Fatal(err)
	}

	// Expiry.
	short, err := s.CreateToken(ctx, auth.TokenSpec{User: "bob", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	if _, err := s.AuthenticateToken(ctx, short.Secret); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	if ts, _ := s.Tokens(ctx, "bob"); len(ts) != 0 {
		t.Fatalf("expired tokens are listed: %+v", ts)
	}

	// Revocation: for an owner, only the owner's own tokens are found.
	if _, err := s.RevokeToken(ctx, tok.ID, "bob"); !errors.Is(err, auth.ErrNoToken) {
		t.Fatalf("bob revokes alice's token: %v", err)
	}
	if all, _ := s.Tokens(ctx, ""); len(all) != 1 || all[0].ID != tok.ID {
		t.Fatalf("all tokens: %+v", all)
	}
	if got, err := s.RevokeToken(ctx, tok.ID, "alice"); err != nil || got.ID != tok.ID {
		t.Fatalf("revoke: %+v %v", got, err)
	}
	if _, err := s.AuthenticateToken(ctx, tok.Secret); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := s.RevokeToken(ctx, tok.ID, ""); !errors.Is(err, auth.ErrNoToken) {
		t.Fatalf("revoke twice: %v", err)
	}
	if _, err := s.RevokeToken(ctx, "../users", ""); !errors.Is(err, auth.ErrNoToken) {
		t.Fatalf("revoke a path: %v", err)
	}
}

func TestRegister(t *testing.T) {
	s, _, c := newService(t)
	ctx := context.Background()
	u, err := s.Register(ctx, "Carol", pw, "192.0.2.1:1")
	if err != nil || u.Name != "carol" || u.Role != auth.RoleViewer {
		t.Fatalf("register: %+v %v", u, err)
	}
	if _, err := s.Register(ctx, "carol", pw, "192.0.2.1:1"); !errors.Is(err, auth.ErrUserExists) {
		t.Fatalf("again: %v", err)
	}
	// One address makes 5 attempts freely; the 6th sets a wait.
	for i := range 3 {
		if _, err := s.Register(ctx, fmt.Sprintf("user%d", i), pw, "192.0.2.1:1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Register(ctx, "user3", pw, "192.0.2.1:1"); err != nil {
		t.Fatalf("6th attempt: %v", err)
	}
	var rl *auth.RateLimitError
	if _, err := s.Register(ctx, "user4", pw, "192.0.2.1:1"); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("7th attempt: %v", err)
	}
	if _, err := s.Register(ctx, "user4", pw, "192.0.2.2:1"); err != nil {
		t.Fatalf("from another address: %v", err)
	}
	c.Advance(time.Second)
	if _, err := s.Register(ctx, "user5", pw, "192.0.2.1:1"); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

// Accounts survive a restart: writes are synced to LevelDB.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	ds, err := leveldb.NewDatastore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.New(ds, auth.WithParams(fast), auth.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, s, "alice", auth.RoleAdmin)
	sess, _ := s.Login(ctx, "alice", pw, "127.0.0.1:1")
	tok, _ := s.CreateToken(ctx, auth.TokenSpec{User: "alice", Role: auth.RoleViewer, TTL: time.Hour})
	ds.Close()

	ds, err = leveldb.NewDatastore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	s, _ = auth.New(ds, auth.WithParams(fast), auth.WithLogger(quiet))
	if _, err := s.Session(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if id, err := s.AuthenticateToken(ctx, tok.Secret); err != nil || id.Role != auth.RoleViewer {
		t.Fatalf("%+v %v", id, err)
	}
	if _, err := s.Login(ctx, "alice", pw, "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
}

// A hash stored with other parameters is verified with them and upgraded
// to the current ones at the next login.
func TestHashUpgrade(t *testing.T) {
	s, ds, _ := newService(t)
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleViewer)
	s2, err := auth.New(ds, auth.WithParams(auth.Params{Memory: 128, Time: 2, Threads: 1}), auth.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s2.Login(ctx, "alice", pw, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump(t, ds), []byte("$m=128,t=2,p=1$")) {
		t.Fatal("hash not upgraded")
	}
	if _, err := s2.Session(ctx, sess.ID); err != nil {
		t.Fatalf("the upgrade revoked the session: %v", err)
	}
}

func TestOptions(t *testing.T) {
	ds := datastore.NewMapDatastore()
	for name, o := range map[string]auth.Option{
		"no memory":   auth.WithParams(auth.Params{Memory: 0, Time: 1, Threads: 1}),
		"no threads":  auth.WithParams(auth.Params{Memory: 64, Time: 1, Threads: 0}),
		"no time":     auth.WithParams(auth.Params{Memory: 64, Time: 0, Threads: 1}),
		"ttl 1s":      auth.WithSessionTTL(time.Second),
		"ttl 2 years": auth.WithSessionTTL(2 * 365 * 24 * time.Hour),
		"0 slots":     auth.WithHashConcurrency(0),
		"nil clock":   auth.WithClock(nil),
	} {
		if _, err := auth.New(ds, o); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := auth.New(nil); err == nil {
		t.Error("nil datastore accepted")
	}
}

// BenchmarkLogin shows that a wrong password and an unknown user cost the
// same: both run one argon2id computation with the production parameters
// (go test -run - -bench Login ./auth).
func BenchmarkLogin(b *testing.B) {
	for _, c := range []struct{ name, user string }{{"wrong-password", "alice"}, {"unknown-user", "mallory"}, {"right-password", "alice"}} {
		b.Run(c.name, func(b *testing.B) {
			ds := dssync.MutexWrap(datastore.NewMapDatastore())
			clk := newClock()
			s, err := auth.New(ds, auth.WithClock(clk.Now), auth.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			addUser(b, s, "alice", auth.RoleViewer)
			password := "wrong password"
			if c.name == "right-password" {
				password = pw
			}
			for b.Loop() {
				clk.Advance(25 * time.Hour) // past any backoff
				_, err := s.Login(context.Background(), c.user, password, "127.0.0.1:1")
				if (c.name == "right-password") != (err == nil) {
					b.Fatal(err)
				}
			}
		})
	}
}

// Parallel guesses gain nothing: with one hash slot, 30 wrong passwords
// sent at once get exactly the 6 verifications a sequence gets, the rest a
// rate-limit answer.
func TestConcurrentLogins(t *testing.T) {
	s, _, _ := newService(t, auth.WithHashConcurrency(1))
	addUser(t, s, "alice", auth.RoleViewer)
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Go(func() {
			_, err := s.Login(context.Background(), "alice", "wrong password", fmt.Sprintf("10.9.0.%d:1", i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	bad, limited := 0, 0
	for err := range errs {
		switch {
		case errors.Is(err, auth.ErrBadCredentials):
			bad++
		case errors.Is(err, auth.ErrRateLimited):
			limited++
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if bad != 6 || limited != 24 {
		t.Fatalf("%d verified, %d limited; want 6 and 24", bad, limited)
	}
}

// The log tells what happened (user added, login, failures, tokens) and
// never holds a password, a session ID or a token's secret.
func TestNoSecretsInLogs(t *testing.T) {
	var logs bytes.Buffer
	s, _, _ := newService(t, auth.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ctx := context.Background()
	addUser(t, s, "alice", auth.RoleAdmin)
	s.Login(ctx, "alice", "a wrong password", "127.0.0.1:1")
	sess, err := s.Login(ctx, "alice", pw, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateToken(ctx, auth.TokenSpec{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s.AuthenticateToken(ctx, tok.Secret)
	s.ChangePassword(ctx, "alice", pw, "the next password", "127.0.0.1:1")
	out := logs.String()
	for _, want := range []string{"user added", "failed login", "login", "token created", "password changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	secret := tok.Secret[strings.LastIndexByte(tok.Secret, '_')+1:]
	for name, v := range map[string]string{"password": pw, "wrong password": "a wrong password", "new password": "the next password",
		"session ID": sess.ID, "CSRF token": sess.CSRFToken, "token secret": secret} {
		if strings.Contains(out, v) {
			t.Errorf("the log holds the %s", name)
		}
	}
}
