package wire

import "time"

// Error codes of the accounts routes and the authentication checks.
const (
	CodeCSRF        = "csrf"         // 403: a cookie-authenticated mutating request without the right X-CSRF-Token
	CodeRateLimited = "rate_limited" // 429: too many failed logins or registrations; see Retry-After
)

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResult is the answer of POST /v1/auth/login, which also sets the
// session cookie (HttpOnly, SameSite=Strict). Send CSRFToken in the
// X-CSRF-Token header with every POST, PUT or DELETE that the cookie
// authenticates.
type LoginResult struct {
	CSRFToken string    `json:"csrf_token"`
	Username  string    `json:"username"`
	Role      string    `json:"role"`    // "admin" or "viewer"
	Expires   time.Time `json:"expires"` // unless used before: each use extends the session
}

// Me is the answer of GET /v1/auth/me: who the request acts as.
type Me struct {
	Username string `json:"username,omitempty"` // empty for the repo's api.token
	Role     string `json:"role"`
	// Auth is how the request authenticated: "session" (cookie), "token"
	// (a user's API token) or "machine" (the repo's api.token).
	Auth      string    `json:"auth"`
	CSRFToken string    `json:"csrf_token,omitempty"` // with a session: the X-CSRF-Token to send
	TokenID   string    `json:"token_id,omitempty"`   // with a user's API token
	Expires   time.Time `json:"expires,omitzero"`     // of the session or the token
}

// RegisterRequest is the body of POST /v1/auth/register and POST /v1/users.
type RegisterRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Role is "viewer" (the default) or "admin"; only an admin creates
	// admins.
	Role string `json:"role,omitempty"`
}

// User is an account (GET /v1/users and the answers of the routes that
// change one). Usernames are canonical: lower case, Unicode NFC.
type User struct {
	Username string    `json:"username"`
	Role     string    `json:"role"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"` // the last change of password or role
}

// UserRef names a user (the answer of DELETE /v1/users and POST
// /v1/users/password).
type UserRef struct {
	Username string `json:"username"`
}

// SetPasswordRequest is the body of POST /v1/users/password (an admin sets
// a user's password). Every session and token of the user is revoked.
type SetPasswordRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// ChangePasswordRequest is the body of POST /v1/auth/password (a user
// changes their own password). Every session and token of the user is
// revoked, the caller's included: log in again.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// SetRoleRequest is the body of POST /v1/users/role.
type SetRoleRequest struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	// Username owns the token; default: the caller. Only an admin creates
	// tokens for another user; the repo's api.token must name one.
	Username string `json:"username,omitempty"`
	// Role defaults to the lower of the caller's and the owner's role; it
	// is never above either.
	Role string `json:"role,omitempty"`
	// TTLMS is the lifetime in milliseconds, from 1 minute to 365 days;
	// default 30 days. A token never outlives the token that creates it.
	TTLMS float64 `json:"ttl_ms,omitempty"`
	Name  string  `json:"name,omitempty"` // a label, at most 64 bytes
}

// Token is a user's API token without its secret (GET /v1/tokens, DELETE
// /v1/tokens).
type Token struct {
	ID       string    `json:"id"`
	Username string    `json:"username"`
	Name     string    `json:"name,omitempty"`
	Role     string    `json:"role"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
}

// NewToken is the answer of POST /v1/tokens: the token with its secret,
// shown this once (only its hash is stored). Send it as
// "Authorization: Bearer <token>".
type NewToken struct {
	Token
	Secret string `json:"token"`
}
