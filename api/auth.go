package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/auth"
)

// Auth is what authentication and the accounts routes need: package auth's
// *Service.
type Auth interface {
	Login(ctx context.Context, name, password, client string) (auth.Session, error)
	Logout(ctx context.Context, sessionID string) error
	Session(ctx context.Context, sessionID string) (auth.Identity, error)
	AuthenticateToken(ctx context.Context, token string) (auth.Identity, error)
	Register(ctx context.Context, name, password, client string) (auth.User, error)
	AddUser(ctx context.Context, name, password string, role auth.Role) (auth.User, error)
	Users(ctx context.Context) ([]auth.User, error)
	DeleteUser(ctx context.Context, name string) error
	SetPassword(ctx context.Context, name, password string) error
	ChangePassword(ctx context.Context, name, current, password, client string) error
	SetRole(ctx context.Context, name string, role auth.Role) (auth.User, error)
	CreateToken(ctx context.Context, spec auth.TokenSpec) (auth.NewToken, error)
	Tokens(ctx context.Context, user string) ([]auth.Token, error)
	RevokeToken(ctx context.Context, id, owner string) (auth.Token, error)
}

const (
	// SessionCookie is the name of the session cookie set by POST /v1/auth/login.
	SessionCookie = "plexus_session"
	// CSRFHeader carries the session's CSRF token on mutating requests
	// that the session cookie authenticates.
	CSRFHeader = "X-CSRF-Token"
)

// access is who may call a route; routeAccess gives each route's.
type access int

const (
	accessViewer       access = iota + 1 // any authenticated caller
	accessAdmin                          // a user or token with the admin role, or the repo's api.token
	accessPublic                         // anyone: no credentials needed
	accessRegistration                   // anyone when api.registration = "open", otherwise an admin
)

func (a access) String() string {
	switch a {
	case accessViewer:
		return "viewer"
	case accessAdmin:
		return "admin"
	case accessPublic:
		return "none"
	case accessRegistration:
		return "admin, or none when api.registration = \"open\""
	}
	return "?"
}

// routeAccess returns the access a route needs: its line in
// accessExceptions, otherwise viewer for reads (GET) and admin for every
// other method.
func routeAccess(pattern string) access {
	if a, ok := accessExceptions[pattern]; ok {
		return a
	}
	if method, _, _ := strings.Cut(pattern, " "); method == http.MethodGet || method == http.MethodHead {
		return accessViewer
	}
	return accessAdmin
}

// principal is who a request acts as.
type principal struct {
	user    string    // "" for the repo's api.token
	role    auth.Role // effective: a token's role is capped by its owner's
	via     string    // viaMachine, viaSession or viaToken
	session string    // the session ID, with viaSession
	tokenID string    // with viaToken
	expires time.Time // of the session or token
}

const (
	viaMachine = "machine"
	viaSession = string(auth.ViaSession)
	viaToken   = string(auth.ViaToken)
)

func (p *principal) String() string {
	switch p.via {
	case viaMachine:
		return "the repo's api.token"
	case viaToken:
		return fmt.Sprintf("API token %s of user %q", p.tokenID, p.user)
	}
	return fmt.Sprintf("user %q", p.user)
}

type principalKey struct{}

// principalOf returns who the request acts as; nil for a request that
// needs no credentials and sent none.
func principalOf(r *http.Request) *principal {
	p, _ := r.Context().Value(principalKey{}).(*principal)
	return p
}

// unauthorized is the message of a 401 answer.
type unauthorized string

func (e unauthorized) Error() string { return string(e) }

const errNoCredentials = unauthorized(`missing API token: send "Authorization: Bearer <token>" (the repo's api.token file, ` +
	`or a user's token from "plexus tokens create"), or log in with POST /v1/auth/login for a session cookie`)

// authorize authenticates the request (a bearer token, else the session
// cookie), checks the CSRF token of a cookie-authenticated mutating
// request, then the role the route needs, and passes the principal on in
// the request's context.
func (s *Server) authorize(acc access, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if acc == accessPublic {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.authenticate(w, r)
		var un unauthorized
		switch {
		case err == nil:
		case acc == accessRegistration && s.opts.OpenRegistration && errors.Is(err, errNoCredentials):
			next.ServeHTTP(w, r) // anonymous registration
			return
		case errors.As(err, &un) || errors.Is(err, auth.ErrUnauthenticated):
			writeError(w, http.StatusUnauthorized, err)
			return
		default:
			s.fail(w, r, err)
			return
		}
		markAuthenticated(r.Context())
		if p.via == viaSession && mutating(r.Method) && !auth.CheckCSRF(p.session, r.Header.Get(CSRFHeader)) {
			writeJSON(w, http.StatusForbidden, wire.Error{Code: wire.CodeCSRF, Error: "CSRF token missing or wrong: " +
				"a request that the session cookie authenticates must send the csrf_token of POST /v1/auth/login " +
				"(or GET /v1/auth/me) in the " + CSRFHeader + " header"})
			return
		}
		need := auth.RoleViewer
		if acc == accessAdmin || (acc == accessRegistration && !s.opts.OpenRegistration) {
			need = auth.RoleAdmin
		}
		if !p.role.Covers(need) {
			writeError(w, http.StatusForbidden, fmt.Errorf("this route needs the %s role; %s has the %s role", need, p, p.role))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// mutating reports whether a request of this method may change state.
func mutating(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// authenticate finds who the request is: the Authorization header when
// present (its scheme matched case-insensitively, RFC 9110), else the
// session cookie.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		return s.bearer(r.Context(), h)
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, errNoCredentials
	}
	id, err := s.svc.Auth.Session(r.Context(), c.Value)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			clearSessionCookie(w, r)
		}
		return nil, err
	}
	if id.Refreshed {
		setSessionCookie(w, r, c.Value, id.Expires)
	}
	return &principal{user: id.User, role: id.Role, via: viaSession, session: c.Value, expires: id.Expires}, nil
}

// bearer authenticates "Bearer <token>": the repo's api.token (the
// machine's admin) or a user's API token.
func (s *Server) bearer(ctx context.Context, h string) (*principal, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if len(scheme) > 20 {
			scheme = scheme[:20] + "..."
		}
		return nil, unauthorized(fmt.Sprintf("unsupported authorization scheme %q: send \"Authorization: Bearer <token>\"", scheme))
	}
	cred = strings.TrimSpace(cred)
	if cred == "" {
		return nil, errNoCredentials
	}
	if subtle.ConstantTimeCompare([]byte(cred), []byte(s.opts.Token)) == 1 {
		return &principal{role: auth.RoleAdmin, via: viaMachine}, nil
	}
	if !strings.HasPrefix(cred, auth.TokenPrefix) {
		return nil, unauthorized("wrong API token")
	}
	id, err := s.svc.Auth.AuthenticateToken(ctx, cred)
	if err != nil {
		return nil, err
	}
	return &principal{user: id.User, role: id.Role, via: viaToken, tokenID: id.TokenID, expires: id.Expires}, nil
}

// setSessionCookie sets the session cookie: HttpOnly (scripts cannot read
// it), SameSite=Strict (no other site's page sends it), Path=/, Secure when
// served over TLS, living as long as the session.
func setSessionCookie(w http.ResponseWriter, r *http.Request, id string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		MaxAge: max(1, int(time.Until(expires).Seconds())), Expires: expires})
}

// clearSessionCookie tells the browser to drop the session cookie.
func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
}

// failAuth answers an accounts error: a rate limit with its Retry-After
// (whole seconds, rounded up).
func (s *Server) failAuth(w http.ResponseWriter, r *http.Request, err error) {
	var rl *auth.RateLimitError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.RetryAfter.Seconds()))))
	}
	s.fail(w, r, err)
}

// forbidden answers 403 with a message.
func forbidden(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusForbidden, fmt.Errorf(format, args...))
}

func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) {
	var req wire.LoginRequest
	if !s.decode(w, r, &req) {
		return
	}
	sess, err := s.svc.Auth.Login(r.Context(), req.Username, req.Password, r.RemoteAddr)
	if err != nil {
		s.failAuth(w, r, err)
		return
	}
	setSessionCookie(w, r, sess.ID, sess.Expires)
	writeJSON(w, http.StatusOK, wire.LoginResult{CSRFToken: sess.CSRFToken, Username: sess.User,
		Role: string(sess.Role), Expires: sess.Expires})
}

func (s *Server) postLogout(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if p.via != viaSession {
		s.fail(w, r, invalid("logout ends a browser session and this request has none: it is authenticated by %s "+
			"(revoke a user's token with DELETE /v1/tokens?id=ID)", p))
		return
	}
	if err := s.svc.Auth.Logout(r.Context(), p.session); err != nil {
		s.fail(w, r, err)
		return
	}
	clearSessionCookie(w, r)
	writeJSON(w, http.StatusOK, wire.Status{Status: "logged out"})
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	me := wire.Me{Username: p.user, Role: string(p.role), Auth: p.via, TokenID: p.tokenID, Expires: p.expires}
	if p.via == viaSession {
		me.CSRFToken = auth.CSRFToken(p.session)
	}
	writeJSON(w, http.StatusOK, me)
}

// postRegister creates an account: any role for an admin; a viewer account
// for anyone else, which the route only lets through with open
// registration.
func (s *Server) postRegister(w http.ResponseWriter, r *http.Request) {
	var req wire.RegisterRequest
	if !s.decode(w, r, &req) {
		return
	}
	if p := principalOf(r); p != nil && p.role.Covers(auth.RoleAdmin) {
		s.addUser(w, r, req)
		return
	}
	if req.Role != "" && req.Role != string(auth.RoleViewer) {
		forbidden(w, "open registration creates viewer accounts; only an admin creates %q accounts", req.Role)
		return
	}
	u, err := s.svc.Auth.Register(r.Context(), req.Username, req.Password, r.RemoteAddr)
	if err != nil {
		s.failAuth(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, userWire(u))
}

// roleOr parses a role, def when empty.
func roleOr(s string, def auth.Role) (auth.Role, error) {
	if s == "" {
		return def, nil
	}
	return auth.ParseRole(s)
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request, req wire.RegisterRequest) {
	role, err := roleOr(req.Role, auth.RoleViewer)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.svc.Auth.AddUser(r.Context(), req.Username, req.Password, role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, userWire(u))
}

func (s *Server) postChangePassword(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	var req wire.ChangePasswordRequest
	if !s.decode(w, r, &req) {
		return
	}
	if p.user == "" {
		s.fail(w, r, invalid("the repo's api.token belongs to no user: an admin sets a user's password with POST /v1/users/password"))
		return
	}
	err := s.svc.Auth.ChangePassword(r.Context(), p.user, req.CurrentPassword, req.NewPassword, r.RemoteAddr)
	if errors.Is(err, auth.ErrBadCredentials) {
		forbidden(w, "the current password is wrong")
		return
	}
	if err != nil {
		s.failAuth(w, r, err)
		return
	}
	if p.via == viaSession {
		clearSessionCookie(w, r)
	}
	writeJSON(w, http.StatusOK, wire.Status{Status: "password changed; every session and token of " + p.user + " is revoked: log in again"})
}

func (s *Server) getUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.svc.Auth.Users(r.Context())
	out := make([]wire.User, len(us))
	for i, u := range us {
		out[i] = userWire(u)
	}
	s.answer(w, r, out, err)
}

func (s *Server) postUsers(w http.ResponseWriter, r *http.Request) {
	var req wire.RegisterRequest
	if !s.decode(w, r, &req) {
		return
	}
	s.addUser(w, r, req)
}

func (s *Server) deleteUsers(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		s.fail(w, r, invalid("missing name: DELETE /v1/users?name=USERNAME"))
		return
	}
	if err := s.svc.Auth.DeleteUser(r.Context(), name); err != nil {
		s.fail(w, r, err)
		return
	}
	n, _ := auth.NormalizeName(name)
	writeJSON(w, http.StatusOK, wire.UserRef{Username: n})
}

func (s *Server) postUserPassword(w http.ResponseWriter, r *http.Request) {
	var req wire.SetPasswordRequest
	if !s.decode(w, r, &req) {
		return
	}
	if err := s.svc.Auth.SetPassword(r.Context(), req.Username, req.Password); err != nil {
		s.fail(w, r, err)
		return
	}
	n, _ := auth.NormalizeName(req.Username)
	writeJSON(w, http.StatusOK, wire.UserRef{Username: n})
}

func (s *Server) postUserRole(w http.ResponseWriter, r *http.Request) {
	var req wire.SetRoleRequest
	if !s.decode(w, r, &req) {
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.svc.Auth.SetRole(r.Context(), req.Username, role)
	s.answer(w, r, userWire(u), err)
}

// getTokens lists the caller's tokens; an admin's lists every user's.
func (s *Server) getTokens(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	owner := p.user
	if p.role.Covers(auth.RoleAdmin) {
		owner = ""
	}
	ts, err := s.svc.Auth.Tokens(r.Context(), owner)
	out := make([]wire.Token, len(ts))
	for i, t := range ts {
		out[i] = tokenWire(t)
	}
	s.answer(w, r, out, err)
}

// postTokens creates a token for the caller, or for any user when the
// caller is an admin; its role is never above the caller's nor the owner's.
func (s *Server) postTokens(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	var req wire.TokenRequest
	if !s.decode(w, r, &req) {
		return
	}
	owner := req.Username
	if owner == "" {
		if p.user == "" {
			s.fail(w, r, invalid("the repo's api.token belongs to no user: name the token's owner in \"username\""))
			return
		}
		owner = p.user
	} else {
		n, err := auth.NormalizeName(owner)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if n != p.user && !p.role.Covers(auth.RoleAdmin) {
			forbidden(w, "only an admin creates tokens for another user; %s has the %s role", p, p.role)
			return
		}
	}
	role, err := roleOr(req.Role, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case role == "" && !p.role.Covers(auth.RoleAdmin):
		role = p.role
	case role != "" && !p.role.Covers(role):
		forbidden(w, "a token's role is never above its creator's: %s has the %s role", p, p.role)
		return
	}
	if req.TTLMS < 0 || math.IsNaN(req.TTLMS) || req.TTLMS > float64(math.MaxInt64/int64(time.Millisecond)) {
		s.fail(w, r, invalid("ttl_ms %v: want a lifetime in milliseconds, from 1 minute to 365 days", req.TTLMS))
		return
	}
	spec := auth.TokenSpec{User: owner, Role: role, TTL: fromMS(req.TTLMS), Name: req.Name}
	if p.via == viaToken {
		spec.NotAfter = p.expires
	}
	nt, err := s.svc.Auth.CreateToken(r.Context(), spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, wire.NewToken{Token: tokenWire(nt.Token), Secret: nt.Secret})
}

// deleteTokens revokes one of the caller's tokens; an admin revokes any.
func (s *Server) deleteTokens(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.URL.Query().Get("id")
	if id == "" {
		s.fail(w, r, invalid("missing id: DELETE /v1/tokens?id=TOKEN_ID (see GET /v1/tokens)"))
		return
	}
	owner := p.user
	if p.role.Covers(auth.RoleAdmin) {
		owner = ""
	}
	t, err := s.svc.Auth.RevokeToken(r.Context(), id, owner)
	s.answer(w, r, tokenWire(t), err)
}

func userWire(u auth.User) wire.User {
	return wire.User{Username: u.Name, Role: string(u.Role), Created: u.Created, Updated: u.Updated}
}

func tokenWire(t auth.Token) wire.Token {
	return wire.Token{ID: t.ID, Username: t.User, Name: t.Name, Role: string(t.Role), Created: t.Created, Expires: t.Expires}
}
