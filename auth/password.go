package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters of a password hash.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
}

// DefaultParams follow RFC 9106's second recommended option for argon2id
// (section 4: 64 MiB, 3 passes, 4 lanes), which costs more than every
// configuration in OWASP's password storage cheat sheet (whose strongest is
// 46 MiB with 1 pass). One hash takes about 85-120 ms on the project's
// 2-core machine (go test -bench Hash ./auth), so a login stays far below
// a second; WithHashConcurrency bounds the memory held at once (default at
// most 4 x 64 MiB).
var DefaultParams = Params{Memory: 64 << 10, Time: 3, Threads: 4}

const (
	saltLen = 16 // bytes, RFC 9106's recommendation
	keyLen  = 32
	// Bounds on the parameters of a stored hash, so a corrupt entry cannot
	// make a login allocate without limit.
	maxMemory = 1 << 20 // KiB: 1 GiB
	maxTime   = 100
)

func (p Params) check() error {
	switch {
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB is outside [8 x threads, %d]", p.Memory, maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d is outside 1..%d", p.Time, maxTime)
	}
	return nil
}

// hashPassword returns the PHC string of an argon2id hash of pw with a new
// random salt: $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash> (base64 without
// padding).
func hashPassword(pw string, p Params) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parseHash reads a PHC string written by hashPassword.
func parseHash(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("parameters %q: %w", parts[3], err)
	}
	if err := p.check(); err != nil {
		return p, nil, nil, err
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, errors.New("bad salt")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("bad hash")
	}
	return p, salt, key, nil
}

// verifyPassword reports whether pw matches the PHC string, comparing in
// constant time, and returns the hash's parameters.
func verifyPassword(pw, encoded string) (bool, Params, error) {
	p, salt, key, err := parseHash(encoded)
	if err != nil {
		return false, p, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}
