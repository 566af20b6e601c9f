package auth

import (
	"testing"
)

// FuzzParseHash reads stored PHC password hashes: what parses has
// parameters within the bounds Params.check enforces, so a corrupted or
// planted hash cannot make a login hash with unbounded memory or time.
func FuzzParseHash(f *testing.F) {
	p := Params{Memory: 64, Time: 1, Threads: 1}
	f.Add(hashPassword("pw", p))
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$$")
	f.Add("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, salt, key, err := parseHash(s)
		if err != nil {
			return
		}
		if err := got.check(); err != nil {
			t.Fatalf("parseHash(%q) accepted parameters %+v: %v", s, got, err)
		}
		if len(salt) < 8 || len(key) < 16 {
			t.Fatalf("parseHash(%q): salt %d bytes, key %d bytes", s, len(salt), len(key))
		}
	})
}
