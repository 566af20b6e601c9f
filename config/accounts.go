package config

import (
	"fmt"
	"time"
)

// The accounts settings of the [api] section (api.registration,
// api.session_ttl): defaults and bounds. Package auth takes its defaults
// from here and checks its options with CheckSessionTTL, so a value the
// config accepts is one the accounts service accepts.
const (
	// RegistrationAdmin: only an admin (or the repo's api.token) creates
	// accounts. The default.
	RegistrationAdmin = "admin"
	// RegistrationOpen: anyone who can reach the API may register a viewer
	// account with POST /v1/auth/register.
	RegistrationOpen = "open"

	// DefaultSessionTTL is how long a login session lasts without use; every
	// use extends it by the same amount (sliding expiry).
	DefaultSessionTTL = 7 * 24 * time.Hour
	// MinSessionTTL and MaxSessionTTL bound api.session_ttl.
	MinSessionTTL = time.Minute
	MaxSessionTTL = 365 * 24 * time.Hour
)

// CheckSessionTTL reports whether d is a valid session lifetime:
// [MinSessionTTL, MaxSessionTTL].
func CheckSessionTTL(d time.Duration) error {
	if d < MinSessionTTL || d > MaxSessionTTL {
		return fmt.Errorf("%s is outside [%s, %s]", d, MinSessionTTL, MaxSessionTTL)
	}
	return nil
}

// validateAccounts reports problems in the accounts settings of [api].
func (c *Config) validateAccounts() []error {
	var errs []error
	switch c.API.Registration {
	case RegistrationAdmin, RegistrationOpen:
	default:
		errs = append(errs, fmt.Errorf("api.registration: %q is not %q or %q", c.API.Registration, RegistrationAdmin, RegistrationOpen))
	}
	if err := CheckSessionTTL(time.Duration(c.API.SessionTTL)); err != nil {
		errs = append(errs, fmt.Errorf("api.session_ttl: %w", err))
	}
	return errs
}
