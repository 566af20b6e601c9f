package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/auth"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/node"
)

// fastHash are argon2id parameters for tests only.
var fastHash = auth.Params{Memory: 64, Time: 1, Threads: 1}

// testClock is a settable time source for the accounts service; it starts
// at the real time, so cookie lifetimes (computed from the wall clock) stay
// sensible.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestAuth returns accounts in memory with fast hashing.
func newTestAuth(t *testing.T, opts ...auth.Option) *auth.Service {
	t.Helper()
	a, err := auth.New(dssync.MutexWrap(datastore.NewMapDatastore()),
		append([]auth.Option{auth.WithParams(fastHash), auth.WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// authEnv is an API over fakes with real accounts (in memory, fast
// hashing, a settable clock).
type authEnv struct {
	t     *testing.T
	h     http.Handler
	auth  *auth.Service
	clock *testClock
}

func newAuthEnv(t *testing.T, open bool) *authEnv {
	t.Helper()
	e := &authEnv{t: t, clock: &testClock{t: time.Now()}}
	e.auth = newTestAuth(t, auth.WithClock(e.clock.Now))
	svc := Services{
		Node: &fakeNode{bus: events.New(), info: node.Info{ID: testPeer(t), AgentVersion: "plexus/test"}}, Discovery: fakeDiscovery{}, Routing: fakeRouting{},
		Records: fakeRecords{}, Perf: fakePerf{}, PubSub: fakePubSub{}, Messaging: fakeMessaging{}, NAT: fakeNAT{},
		Tunnels: fakeTunnels{}, ACL: fakeACL{}, Auth: e.auth, Files: fakeFiles{},
	}
	s, err := New(svc, Options{Token: testToken, Logger: quietLogger(), OpenRegistration: open})
	if err != nil {
		t.Fatal(err)
	}
	e.h = s.Handler()
	return e
}

// creds are what a request authenticates with.
type creds struct {
	bearer string // Authorization: Bearer <bearer>
	header string // a raw Authorization header
	cookie string // the session cookie's value
	csrf   string // X-CSRF-Token
}

var machine = creds{bearer: testToken}

// session is a logged-in browser: its cookie, with or without the CSRF token.
type session struct{ cookie, csrf string }

func (s session) creds() creds  { return creds{cookie: s.cookie, csrf: s.csrf} }
func (s session) noCSRF() creds { return creds{cookie: s.cookie} }
func (s session) badCSRF() creds {
	return creds{cookie: s.cookie, csrf: auth.CSRFToken("another session")}
}
func bearer(token string) creds       { return creds{bearer: token} }
func cookieOnly(value string) creds   { return creds{cookie: value} }
func rawAuthorization(h string) creds { return creds{header: h} }

// do sends one request.
func (e *authEnv) do(method, target, body string, c creds) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.header != "":
		req.Header.Set("Authorization", c.header)
	case c.bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.cookie})
	}
	if c.csrf != "" {
		req.Header.Set(CSRFHeader, c.csrf)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// want checks a status and decodes a success body into v (nil: skip).
func (e *authEnv) want(rec *httptest.ResponseRecorder, status int, v any) {
	e.t.Helper()
	if rec.Code != status {
		e.t.Fatalf("status %d, want %d (body %s)", rec.Code, status, rec.Body)
	}
	if v != nil {
		decodeJSON(e.t, rec.Body.Bytes(), v)
	}
}

// wantErr checks an error answer's status, code and message.
func (e *authEnv) wantErr(rec *httptest.ResponseRecorder, status int, code, msg string) {
	e.t.Helper()
	wantError(e.t, rec.Code, rec.Body.Bytes(), status, code, msg)
}

const testPW = "correct horse battery staple"

// addUser creates a user with the machine token.
func (e *authEnv) addUser(name string, role auth.Role) {
	e.t.Helper()
	e.want(e.do("POST", "/v1/users", `{"username":"`+name+`","password":"`+testPW+`","role":"`+string(role)+`"}`, machine), 201, nil)
}

// login logs in and returns the session.
func (e *authEnv) login(name, password string) session {
	e.t.Helper()
	rec := e.do("POST", "/v1/auth/login", `{"username":"`+name+`","password":"`+password+`"}`, creds{})
	var res wire.LoginResult
	e.want(rec, 200, &res)
	c := sessionCookie(e.t, rec)
	return session{cookie: c.Value, csrf: res.CSRFToken}
}

// sessionCookie returns the session cookie a response sets.
func sessionCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", SessionCookie, rec.Header()["Set-Cookie"])
	return nil
}

func TestLoginAndLogout(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("alice", auth.RoleViewer)

	rec := e.do("POST", "/v1/auth/login", `{"username":"Alice","password":"`+testPW+`"}`, creds{})
	var res wire.LoginResult
	e.want(rec, 200, &res)
	c := sessionCookie(t, rec)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge < int((7*24*time.Hour).Seconds())-60 {
		t.Fatalf("cookie %+v", c)
	}
	if res.Username != "alice" || res.Role != "viewer" || res.CSRFToken == "" || res.CSRFToken == c.Value {
		t.Fatalf("login answer %+v", res)
	}
	s := session{c.Value, res.CSRFToken}
	var me wire.Me
	e.want(e.do("GET", "/v1/auth/me", "", s.noCSRF()), 200, &me)
	if me.Username != "alice" || me.Role != "viewer" || me.Auth != "session" || me.CSRFToken != res.CSRFToken || me.Expires.IsZero() {
		t.Fatalf("me %+v", me)
	}
	// Over TLS the cookie is Secure.
	req := httptest.NewRequest("POST", "https://node.example/v1/auth/login", strings.NewReader(`{"username":"alice","password":"`+testPW+`"}`))
	tlsRec := httptest.NewRecorder()
	e.h.ServeHTTP(tlsRec, req)
	if c := sessionCookie(t, tlsRec); !c.Secure {
		t.Fatalf("cookie over TLS: %+v", c)
	}

	// Logout needs the CSRF token, ends the session and clears the cookie.
	e.wantErr(e.do("POST", "/v1/auth/logout", "", s.noCSRF()), 403, wire.CodeCSRF, "CSRF")
	rec = e.do("POST", "/v1/auth/logout", "", s.creds())
	e.want(rec, 200, nil)
	if c := sessionCookie(t, rec); c.MaxAge >= 0 {
		t.Fatalf("logout cookie %+v", c)
	}
	e.wantErr(e.do("GET", "/v1/auth/me", "", s.noCSRF()), 401, wire.CodeUnauthorized, "session")
	// Logout with a token: nothing to end.
	e.wantErr(e.do("POST", "/v1/auth/logout", "", machine), 400, wire.CodeInvalidArgument, "api.token")
	var mm wire.Me
	e.want(e.do("GET", "/v1/auth/me", "", machine), 200, &mm)
	if mm.Auth != "machine" || mm.Role != "admin" || mm.Username != "" {
		t.Fatalf("machine me %+v", mm)
	}
}

func TestLoginErrors(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("alice", auth.RoleAdmin)
	login := func(body string) *httptest.ResponseRecorder {
		return e.do("POST", "/v1/auth/login", body, creds{})
	}
	// A wrong password and an unknown user: the same status and body.
	wrong := login(`{"username":"alice","password":"wrong password"}`)
	unknown := login(`{"username":"mallory","password":"wrong password"}`)
	e.wantErr(wrong, 401, wire.CodeUnauthorized, "wrong username or password")
	if unknown.Code != wrong.Code || unknown.Body.String() != wrong.Body.String() {
		t.Fatalf("unknown user: %d %s; wrong password: %d %s", unknown.Code, unknown.Body, wrong.Code, wrong.Body)
	}
	if len(unknown.Result().Cookies()) != 0 || len(wrong.Result().Cookies()) != 0 {
		t.Fatal("a failed login set a cookie")
	}
	big := strings.Repeat("x", 10<<10)
	for _, c := range []struct{ name, body, msg string }{
		{"empty name", `{"username":"","password":"x"}`, "empty"},
		{"10 kB name", `{"username":"` + big + `","password":"x"}`, "longer than 64"},
		{"name with a space", `{"username":"a b","password":"x"}`, "invalid username"},
		{"empty password", `{"username":"alice","password":""}`, "empty"},
		{"10 kB password", `{"username":"alice","password":"` + big + `"}`, "longer than 1024"},
		{"unknown field", `{"user":"alice","password":"x"}`, "unknown field"},
		{"no body", ``, "empty request body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := login(c.body)
			e.wantErr(rec, 400, wire.CodeInvalidArgument, c.msg)
			if strings.Contains(rec.Body.String(), big) {
				t.Fatal("the error echoes the input")
			}
		})
	}
	// A bearer header on the login route changes nothing.
	e.want(e.do("POST", "/v1/auth/login", `{"username":"alice","password":"`+testPW+`"}`, bearer("nonsense")), 200, nil)
}

func TestLoginRateLimitAndBackoff(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("alice", auth.RoleAdmin)
	bad := `{"username":"alice","password":"wrong password"}`
	good := `{"username":"alice","password":"` + testPW + `"}`
	for range 6 { // 5 free failures; the 6th sets a 1s wait
		e.wantErr(e.do("POST", "/v1/auth/login", bad, creds{}), 401, wire.CodeUnauthorized, "wrong username or password")
	}
	for _, wait := range []string{"1", "2"} {
		rec := e.do("POST", "/v1/auth/login", good, creds{}) // even the right password waits
		e.wantErr(rec, 429, wire.CodeRateLimited, "try again in")
		if got := rec.Header().Get("Retry-After"); got != wait {
			t.Fatalf("Retry-After %q, want %q", got, wait)
		}
		e.clock.Advance(time.Second * time.Duration(wait[0]-'0'))
		e.wantErr(e.do("POST", "/v1/auth/login", bad, creds{}), 401, wire.CodeUnauthorized, "wrong")
	}
	rec := e.do("POST", "/v1/auth/login", good, creds{})
	e.wantErr(rec, 429, wire.CodeRateLimited, "")
	if got := rec.Header().Get("Retry-After"); got != "4" {
		t.Fatalf("Retry-After %q after 8 failures, want 4", got)
	}
	e.clock.Advance(4 * time.Second)
	e.login("alice", testPW)
	// The address keeps its count: a failure for an unknown user is its
	// 9th, and sets a wait of 8s for any name from it.
	nobody := `{"username":"nobody","password":"wrong password"}`
	e.wantErr(e.do("POST", "/v1/auth/login", nobody, creds{}), 401, wire.CodeUnauthorized, "wrong")
	rec = e.do("POST", "/v1/auth/login", nobody, creds{})
	e.wantErr(rec, 429, wire.CodeRateLimited, "")
	if got := rec.Header().Get("Retry-After"); got != "8" {
		t.Fatalf("Retry-After %q after 9 failures from one address, want 8", got)
	}
}

func TestRegistrationAdminOnly(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("viewer1", auth.RoleViewer)
	body := `{"username":"carol","password":"` + testPW + `"}`
	e.wantErr(e.do("POST", "/v1/auth/register", body, creds{}), 401, wire.CodeUnauthorized, "missing API token")
	v := e.login("viewer1", testPW)
	e.wantErr(e.do("POST", "/v1/auth/register", body, v.creds()), 403, wire.CodeForbidden, "needs the admin role")
	var u wire.User
	e.want(e.do("POST", "/v1/auth/register", `{"username":"Dave","password":"`+testPW+`","role":"admin"}`, machine), 201, &u)
	if u.Username != "dave" || u.Role != "admin" {
		t.Fatalf("registered %+v", u)
	}
	e.wantErr(e.do("POST", "/v1/auth/register", `{"username":"dave","password":"`+testPW+`"}`, machine), 409, wire.CodeConflict, "exists")
}

func TestRegistrationOpen(t *testing.T) {
	e := newAuthEnv(t, true)
	var u wire.User
	e.want(e.do("POST", "/v1/auth/register", `{"username":"Zoë","password":"`+testPW+`"}`, creds{}), 201, &u)
	if u.Username != "zoë" || u.Role != "viewer" {
		t.Fatalf("registered %+v", u)
	}
	// The same name in other forms (case, decomposed) exists already.
	e.wantErr(e.do("POST", "/v1/auth/register", `{"username":"ZOE\u0308","password":"`+testPW+`"}`, creds{}), 409, wire.CodeConflict, "exists")
	e.wantErr(e.do("POST", "/v1/auth/register", `{"username":"eve","password":"`+testPW+`","role":"admin"}`, creds{}), 403, wire.CodeForbidden, "only an admin")
	e.wantErr(e.do("POST", "/v1/auth/register", `{"username":"eve","password":"`+testPW+`"}`, bearer("wrong")), 401, wire.CodeUnauthorized, "wrong API token")
	big := strings.Repeat("x", 10<<10)
	for _, c := range []struct{ name, body, msg string }{
		{"empty name", `{"username":"","password":"` + testPW + `"}`, "empty"},
		{"10 kB name", `{"username":"` + big + `","password":"` + testPW + `"}`, "longer than 64"},
		{"bidi override", `{"username":"eve\u202egnp","password":"` + testPW + `"}`, "invalid username"},
		{"control character", `{"username":"eve\u001b","password":"` + testPW + `"}`, "invalid username"},
		{"empty password", `{"username":"eve","password":""}`, "empty"},
		{"short password", `{"username":"eve","password":"1234567"}`, "shorter than 8"},
		{"10 kB password", `{"username":"eve","password":"` + big + `"}`, "longer than 1024"},
		{"bad role", `{"username":"eve","password":"` + testPW + `","role":"root"}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, code := 400, wire.CodeInvalidArgument
			if c.msg == "" { // a role other than viewer, from a stranger
				status, code = 403, wire.CodeForbidden
			}
			e.wantErr(e.do("POST", "/v1/auth/register", c.body, creds{}), status, code, c.msg)
		})
	}
	// The new viewer logs in and is a viewer.
	s := e.login("zoe\u0308", testPW)
	var me wire.Me
	e.want(e.do("GET", "/v1/auth/me", "", s.noCSRF()), 200, &me)
	if me.Username != "zoë" || me.Role != "viewer" {
		t.Fatalf("me %+v", me)
	}
	e.wantErr(e.do("GET", "/v1/users", "", s.noCSRF()), 403, wire.CodeForbidden, "needs the admin role")
}

func TestCSRF(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("alice", auth.RoleAdmin)
	s := e.login("alice", testPW)
	body := `{"username":"bob","password":"` + testPW + `"}`
	e.wantErr(e.do("POST", "/v1/users", body, s.noCSRF()), 403, wire.CodeCSRF, "CSRF token missing or wrong")
	e.wantErr(e.do("POST", "/v1/users", body, s.badCSRF()), 403, wire.CodeCSRF, "X-CSRF-Token")
	e.wantErr(e.do("DELETE", "/v1/users?name=alice", "", s.noCSRF()), 403, wire.CodeCSRF, "CSRF")
	e.want(e.do("POST", "/v1/users", body, s.creds()), 201, nil)
	// Reads need no CSRF token; bearer tokens never do.
	e.want(e.do("GET", "/v1/users", "", s.noCSRF()), 200, nil)
	e.want(e.do("POST", "/v1/users", `{"username":"carl","password":"`+testPW+`"}`, machine), 201, nil)
	// Another session's token does not fit this one.
	other := e.login("bob", testPW)
	e.wantErr(e.do("POST", "/v1/tokens", `{}`, creds{cookie: other.cookie, csrf: s.csrf}), 403, wire.CodeCSRF, "CSRF")
	// A cross-origin browser POST is refused with a JSON error (issue 11 row 10).
	req := httptest.NewRequest("POST", "/v1/users", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	e.wantErr(rec, 403, wire.CodeForbidden, "cross-origin")
}

// The role of every route of the table: a viewer (session with its CSRF
// token, or a viewer's API token) passes every read route and no mutating
// one, apart from the self-service routes listed in accessExceptions; an
// admin passes them all; nobody passes without credentials but to the login
// route. "Passes" shows as the answer of the first check after the role:
// the ?timeout= parameter, here invalid (400), so no handler runs.
func TestRolesOnEveryRoute(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("victor", auth.RoleViewer)
	e.addUser("ada", auth.RoleAdmin)
	v := e.login("victor", testPW)
	var vt, at wire.NewToken
	e.want(e.do("POST", "/v1/tokens", `{"username":"victor"}`, machine), 201, &vt)
	e.want(e.do("POST", "/v1/tokens", `{"username":"ada","role":"viewer"}`, machine), 201, &at) // an admin's viewer token
	a := e.login("ada", testPW)

	selfService := []string{"POST /v1/auth/logout", "POST /v1/auth/password", "POST /v1/tokens", "DELETE /v1/tokens"}
	adminReads := []string{"GET /v1/users"}
	for _, rt := range (&Server{}).routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		acc := routeAccess(rt.pattern)
		t.Run(rt.pattern, func(t *testing.T) {
			// The policy: reads are viewer's, writes are admin's, but for the listed exceptions.
			switch {
			case rt.pattern == "POST /v1/auth/login":
				if acc != accessPublic {
					t.Fatalf("login needs %s", acc)
				}
			case rt.pattern == "POST /v1/auth/register":
				if acc != accessRegistration {
					t.Fatalf("register needs %s", acc)
				}
			case method == "GET" && !slices.Contains(adminReads, rt.pattern):
				if acc != accessViewer {
					t.Fatalf("a read route needs %s", acc)
				}
			case slices.Contains(selfService, rt.pattern):
				if acc != accessViewer {
					t.Fatalf("a self-service route needs %s", acc)
				}
			default:
				if acc != accessAdmin {
					t.Fatalf("needs %s, want admin", acc)
				}
			}
			target := path + "?timeout=banana"
			passed := func(rec *httptest.ResponseRecorder, who string) {
				t.Helper()
				if rec.Code != 400 || !strings.Contains(rec.Body.String(), "invalid timeout") {
					t.Fatalf("%s: %d %s, want to pass the role check", who, rec.Code, rec.Body)
				}
			}
			refused := func(rec *httptest.ResponseRecorder, who string) {
				t.Helper()
				wantError(t, rec.Code, rec.Body.Bytes(), 403, wire.CodeForbidden, "needs the admin role")
				if !strings.Contains(rec.Body.String(), "viewer role") {
					t.Fatalf("%s: %s does not name the caller's role", who, rec.Body)
				}
			}
			for _, c := range []struct {
				who string
				c   creds
			}{{"viewer session", v.creds()}, {"viewer token", bearer(vt.Secret)}, {"admin's viewer token", bearer(at.Secret)}} {
				rec := e.do(method, target, "", c.c)
				if acc == accessAdmin || acc == accessRegistration {
					refused(rec, c.who)
				} else {
					passed(rec, c.who)
				}
			}
			for _, c := range []struct {
				who string
				c   creds
			}{{"machine token", machine}, {"admin session", a.creds()}} {
				passed(e.do(method, target, "", c.c), c.who)
			}
			rec := e.do(method, target, "", creds{})
			if acc == accessPublic {
				passed(rec, "no credentials")
			} else {
				e.wantErr(rec, 401, wire.CodeUnauthorized, "missing API token")
			}
		})
	}
}

func TestTokensAPI(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("alice", auth.RoleAdmin)
	e.addUser("bob", auth.RoleViewer)
	b := e.login("bob", testPW)

	// Bob makes his own token: a viewer's.
	var bt wire.NewToken
	e.want(e.do("POST", "/v1/tokens", `{"name":"laptop","ttl_ms":3600000}`, b.creds()), 201, &bt)
	if bt.Username != "bob" || bt.Role != "viewer" || bt.Name != "laptop" || !strings.HasPrefix(bt.Secret, auth.TokenPrefix) ||
		bt.Expires.Sub(bt.Created) != time.Hour {
		t.Fatalf("token %+v", bt)
	}
	e.wantErr(e.do("POST", "/v1/tokens", `{"role":"admin"}`, b.creds()), 403, wire.CodeForbidden, "never above")
	e.wantErr(e.do("POST", "/v1/tokens", `{"username":"alice"}`, b.creds()), 403, wire.CodeForbidden, "only an admin")
	e.wantErr(e.do("POST", "/v1/tokens", `{"ttl_ms":-5}`, b.creds()), 400, wire.CodeInvalidArgument, "ttl_ms")
	e.wantErr(e.do("POST", "/v1/tokens", `{"ttl_ms":1000}`, b.creds()), 400, wire.CodeInvalidArgument, "outside")
	e.wantErr(e.do("POST", "/v1/tokens", `{"name":"`+strings.Repeat("n", 10<<10)+`"}`, b.creds()), 400, wire.CodeInvalidArgument, "longer than 64")
	// The repo's token belongs to no user: it names the owner.
	e.wantErr(e.do("POST", "/v1/tokens", `{}`, machine), 400, wire.CodeInvalidArgument, "username")
	e.wantErr(e.do("POST", "/v1/tokens", `{"username":"nobody"}`, machine), 404, wire.CodeNotFound, "no such user")
	e.wantErr(e.do("POST", "/v1/tokens", `{"username":"bob","role":"admin"}`, machine), 403, wire.CodeForbidden, "role above")
	var at wire.NewToken
	e.want(e.do("POST", "/v1/tokens", `{"username":"alice"}`, machine), 201, &at)
	if at.Role != "admin" || at.Expires.Sub(at.Created) != auth.DefaultTokenTTL {
		t.Fatalf("alice's token %+v", at)
	}

	// A token authenticates with the scheme in any case (RFC 9110).
	for _, h := range []string{"Bearer " + bt.Secret, "bearer " + bt.Secret, "BEARER  " + bt.Secret} {
		var me wire.Me
		e.want(e.do("GET", "/v1/auth/me", "", rawAuthorization(h)), 200, &me)
		if me.Username != "bob" || me.Auth != "token" || me.TokenID != bt.ID || me.Role != "viewer" {
			t.Fatalf("%q: me %+v", h[:7], me)
		}
	}
	// A token made with a token never outlives it.
	var child wire.NewToken
	e.want(e.do("POST", "/v1/tokens", `{}`, bearer(bt.Secret)), 201, &child)
	if !child.Expires.Equal(bt.Expires) {
		t.Fatalf("child expires %s, parent %s", child.Expires, bt.Expires)
	}

	// Listing: bob sees his; an admin sees everyone's.
	var mine, all []wire.Token
	e.want(e.do("GET", "/v1/tokens", "", b.creds()), 200, &mine)
	e.want(e.do("GET", "/v1/tokens", "", machine), 200, &all)
	if len(mine) != 2 || len(all) != 3 {
		t.Fatalf("bob's %+v; all %+v", mine, all)
	}
	if strings.Contains(e.do("GET", "/v1/tokens", "", machine).Body.String(), bt.Secret[len(bt.Secret)-64:]) {
		t.Fatal("the list shows a secret")
	}

	// Revocation: bob cannot find alice's token; he revokes his own.
	e.wantErr(e.do("DELETE", "/v1/tokens?id="+at.ID, "", b.creds()), 404, wire.CodeNotFound, "no such token")
	e.wantErr(e.do("DELETE", "/v1/tokens", "", b.creds()), 400, wire.CodeInvalidArgument, "missing id")
	e.want(e.do("DELETE", "/v1/tokens?id="+child.ID, "", b.creds()), 200, nil)
	e.wantErr(e.do("GET", "/v1/auth/me", "", bearer(child.Secret)), 401, wire.CodeUnauthorized, "unknown or revoked")
	e.want(e.do("DELETE", "/v1/tokens?id="+bt.ID, "", machine), 200, nil)
	e.wantErr(e.do("GET", "/v1/id", "", bearer(bt.Secret)), 401, wire.CodeUnauthorized, "unknown or revoked")

	// Expiry.
	e.want(e.do("GET", "/v1/id", "", bearer(at.Secret)), 200, nil)
	e.clock.Advance(auth.DefaultTokenTTL)
	e.wantErr(e.do("GET", "/v1/id", "", bearer(at.Secret)), 401, wire.CodeUnauthorized, "expired")
}

func TestBearerScheme(t *testing.T) {
	e := newAuthEnv(t, false)
	for _, h := range []string{"Bearer " + testToken, "bearer " + testToken, "BEARER " + testToken, "BeArEr   " + testToken, " Bearer " + testToken + " "} {
		e.want(e.do("GET", "/v1/id", "", rawAuthorization(h)), 200, nil)
	}
	for _, c := range []struct{ h, msg string }{
		{"Basic " + testToken, "unsupported authorization scheme \"Basic\""},
		{"Bearer", "missing API token"},
		{"Bearer nope", "wrong API token"},
		{"Bearer plx_0123456789abcdef_" + strings.Repeat("0", 64), "unknown or revoked"},
		{"Bearer plx_garbage", "malformed API token"},
		{testToken, "unsupported authorization scheme"},
		{strings.Repeat("B", 10<<10) + " x", "unsupported authorization scheme"},
	} {
		rec := e.do("GET", "/v1/id", "", rawAuthorization(c.h))
		e.wantErr(rec, 401, wire.CodeUnauthorized, c.msg)
		if len(rec.Body.String()) > 400 {
			t.Fatalf("%.20q: a %d-byte error", c.h, len(rec.Body.String()))
		}
	}
}

func TestPasswordChangeRevokesSessions(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("alice", auth.RoleViewer)
	s1, s2 := e.login("alice", testPW), e.login("alice", testPW)
	var tok wire.NewToken
	e.want(e.do("POST", "/v1/tokens", `{}`, s1.creds()), 201, &tok)

	// An admin sets the password: every session and token of alice ends.
	e.want(e.do("POST", "/v1/users/password", `{"username":"ALICE","password":"a brand new password"}`, machine), 200, nil)
	rec := e.do("GET", "/v1/auth/me", "", s1.noCSRF())
	e.wantErr(rec, 401, wire.CodeUnauthorized, "revoked")
	if c := sessionCookie(t, rec); c.MaxAge >= 0 {
		t.Fatalf("a revoked session's cookie is not cleared: %+v", c)
	}
	e.wantErr(e.do("GET", "/v1/auth/me", "", s2.noCSRF()), 401, wire.CodeUnauthorized, "")
	e.wantErr(e.do("GET", "/v1/auth/me", "", bearer(tok.Secret)), 401, wire.CodeUnauthorized, "")
	e.wantErr(e.do("POST", "/v1/auth/login", `{"username":"alice","password":"`+testPW+`"}`, creds{}), 401, wire.CodeUnauthorized, "wrong")

	// Self-service: the current password, then a new login.
	s3 := e.login("alice", "a brand new password")
	e.wantErr(e.do("POST", "/v1/auth/password", `{"current_password":"nope nope","new_password":"yet another one"}`, s3.creds()), 403, wire.CodeForbidden, "current password is wrong")
	e.wantErr(e.do("POST", "/v1/auth/password", `{"current_password":"a brand new password","new_password":"short"}`, s3.creds()), 400, wire.CodeInvalidArgument, "shorter than 8")
	e.want(e.do("POST", "/v1/auth/password", `{"current_password":"a brand new password","new_password":"yet another one"}`, s3.creds()), 200, nil)
	e.wantErr(e.do("GET", "/v1/auth/me", "", s3.noCSRF()), 401, wire.CodeUnauthorized, "")
	e.login("alice", "yet another one")
	e.wantErr(e.do("POST", "/v1/auth/password", `{"current_password":"x","new_password":"yet another one"}`, machine), 400, wire.CodeInvalidArgument, "belongs to no user")
}

func TestUsersAPI(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("alice", auth.RoleViewer)
	e.wantErr(e.do("POST", "/v1/users", `{"username":"Alice","password":"`+testPW+`"}`, machine), 409, wire.CodeConflict, "exists")
	e.wantErr(e.do("POST", "/v1/users", `{"username":"bob","password":"`+testPW+`","role":"root"}`, machine), 400, wire.CodeInvalidArgument, "invalid role")
	var u wire.User
	e.want(e.do("POST", "/v1/users/role", `{"username":"alice","role":"admin"}`, machine), 200, &u)
	if u.Role != "admin" {
		t.Fatalf("role change: %+v", u)
	}
	e.wantErr(e.do("POST", "/v1/users/role", `{"username":"nobody","role":"admin"}`, machine), 404, wire.CodeNotFound, "no such user")
	var users []wire.User
	e.want(e.do("GET", "/v1/users", "", machine), 200, &users)
	if len(users) != 1 || users[0].Username != "alice" || users[0].Role != "admin" {
		t.Fatalf("users %+v", users)
	}
	s := e.login("alice", testPW)
	var ref wire.UserRef
	e.want(e.do("DELETE", "/v1/users?name=ALICE", "", machine), 200, &ref)
	if ref.Username != "alice" {
		t.Fatalf("deleted %+v", ref)
	}
	// A deleted user's session is dead.
	e.wantErr(e.do("GET", "/v1/auth/me", "", s.noCSRF()), 401, wire.CodeUnauthorized, "revoked")
	e.wantErr(e.do("DELETE", "/v1/users?name=alice", "", machine), 404, wire.CodeNotFound, "no such user")
	e.wantErr(e.do("DELETE", "/v1/users", "", machine), 400, wire.CodeInvalidArgument, "missing name")
}

func TestMalformedCookie(t *testing.T) {
	e := newAuthEnv(t, false)
	for _, v := range []string{"garbage", "AAAA", strings.Repeat("A", 43), strings.Repeat("x", 3000)} {
		rec := e.do("GET", "/v1/id", "", cookieOnly(v))
		e.wantErr(rec, 401, wire.CodeUnauthorized, "session")
		if c := sessionCookie(t, rec); c.MaxAge >= 0 {
			t.Fatalf("cookie %.10q not cleared: %+v", v, c)
		}
	}
	// A raw header that is not a cookie pair at all.
	req := httptest.NewRequest("GET", "/v1/id", nil)
	req.Header.Set("Cookie", SessionCookie)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	e.wantErr(rec, 401, wire.CodeUnauthorized, "")
}

func TestSessionCookieSlides(t *testing.T) {
	e := newAuthEnv(t, false)
	e.addUser("alice", auth.RoleViewer)
	s := e.login("alice", testPW)
	if rec := e.do("GET", "/v1/id", "", s.noCSRF()); len(rec.Result().Cookies()) != 0 {
		t.Fatal("an immediate reuse re-sets the cookie")
	}
	e.clock.Advance(6 * 24 * time.Hour)
	rec := e.do("GET", "/v1/id", "", s.noCSRF())
	e.want(rec, 200, nil)
	if c := sessionCookie(t, rec); c.Value != s.cookie || c.MaxAge <= 0 {
		t.Fatalf("slid cookie %+v", c)
	}
	e.clock.Advance(6 * 24 * time.Hour) // 12 days after login, 6 after the last use
	e.want(e.do("GET", "/v1/id", "", s.noCSRF()), 200, nil)
	e.clock.Advance(7 * 24 * time.Hour)
	e.wantErr(e.do("GET", "/v1/id", "", s.noCSRF()), 401, wire.CodeUnauthorized, "expired")
}

// brokenAuth is an Auth whose store fails: a handler test with a fake.
type brokenAuth struct{ Auth }

var errStore = errors.New("leveldb: disk on fire")

func (brokenAuth) Session(context.Context, string) (auth.Identity, error) {
	return auth.Identity{}, errStore
}
func (brokenAuth) AuthenticateToken(context.Context, string) (auth.Identity, error) {
	return auth.Identity{}, errStore
}
func (brokenAuth) Login(context.Context, string, string, string) (auth.Session, error) {
	return auth.Session{}, errStore
}

// A failing store answers 500, never 401 or a session.
func TestAuthStoreFailure(t *testing.T) {
	h := newTestAPI(t, func(s *Services) { s.Auth = brokenAuth{} }, nil)
	for _, c := range []struct{ method, path, body, cookie, bearer string }{
		{"GET", "/v1/id", "", strings.Repeat("A", 43), ""},
		{"GET", "/v1/id", "", "", "plx_0123456789abcdef_" + strings.Repeat("0", 64)},
		{"POST", "/v1/auth/login", `{"username":"a","password":"b"}`, "", ""},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		if c.cookie != "" {
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.cookie})
		}
		if c.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		wantError(t, rec.Code, rec.Body.Bytes(), 500, wire.CodeInternal, "disk on fire")
		if len(rec.Result().Cookies()) != 0 {
			t.Fatalf("%s %s: cookie set on a store failure", c.method, c.path)
		}
	}
}

// The accounts-only server (the CLI's, without a daemon) serves the
// accounts routes with the same checks, and nothing else.
func TestNewAccounts(t *testing.T) {
	s, err := NewAccounts(newTestAuth(t), Options{Token: testToken, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	code, body := call(t, h, "POST", "/v1/users", `{"username":"alice","password":"`+testPW+`","role":"admin"}`)
	if code != 201 {
		t.Fatalf("add user: %d %s", code, body)
	}
	code, body = call(t, h, "GET", "/v1/id", "")
	wantError(t, code, body, 404, wire.CodeNotFound, "no route")
	var users []wire.User
	code, body = call(t, h, "GET", "/v1/users", "")
	if code != 200 || json.Unmarshal(body, &users) != nil || len(users) != 1 {
		t.Fatalf("users: %d %s", code, body)
	}
	if _, err := NewAccounts(nil, Options{Token: testToken}); err == nil {
		t.Fatal("nil Auth accepted")
	}
}
