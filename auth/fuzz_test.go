package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/auth"
)

// FuzzAuthenticateToken parses bearer tokens ("plx_<id>_<secret>") against
// a store holding one real token: only that exact string authenticates,
// and every other string is ErrUnauthenticated.
func FuzzAuthenticateToken(f *testing.F) {
	s, _, _ := newService(f)
	addUser(f, s, "alice", auth.RoleAdmin)
	tok, err := s.CreateToken(context.Background(), auth.TokenSpec{User: "alice"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok.Secret)
	f.Add(tok.Secret[:len(tok.Secret)-1] + "0")
	f.Add(strings.ToUpper(tok.Secret))
	f.Add("plx__")
	f.Add("plx_" + tok.ID + "_")
	f.Add("Bearer " + tok.Secret)
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := s.AuthenticateToken(context.Background(), token)
		if token == tok.Secret {
			if err != nil || id.User != "alice" {
				t.Fatalf("the real token: %+v, %v", id, err)
			}
			return
		}
		if !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("token %q: got %+v, %v; want ErrUnauthenticated", token, id, err)
		}
	})
}

// FuzzSession checks session cookies against a store holding one live
// session: only its ID authenticates, and only its CSRF token matches.
func FuzzSession(f *testing.F) {
	s, _, _ := newService(f)
	addUser(f, s, "bob", auth.RoleViewer)
	sess, err := s.Login(context.Background(), "bob", pw, "127.0.0.1:1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sess.ID, sess.CSRFToken)
	f.Add(sess.ID+"=", sess.CSRFToken+"x")
	f.Add(strings.Repeat("A", 43), "")
	f.Add("", "")
	f.Add("not base64 !", "x")
	f.Fuzz(func(t *testing.T, id, csrf string) {
		who, err := s.Session(context.Background(), id)
		if id == sess.ID {
			if err != nil || who.User != "bob" {
				t.Fatalf("the real session: %+v, %v", who, err)
			}
		} else if !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("session %q: got %+v, %v; want ErrUnauthenticated", id, who, err)
		}
		if ok := auth.CheckCSRF(sess.ID, csrf); ok != (csrf == sess.CSRFToken) {
			t.Fatalf("CSRF token %q for the session: %v", csrf, ok)
		}
	})
}

// FuzzNormalizeName normalises user names from login and registration
// JSON: a name that is accepted is stable under normalisation.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"alice", "Alice", " alice ", "ａｌｉｃｅ", "a\u0301", "", strings.Repeat("x", 100), "a b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, err := auth.NormalizeName(name)
		if err != nil {
			return
		}
		again, err := auth.NormalizeName(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeName(%q) = %q, which normalises to %q, %v", name, n, again, err)
		}
	})
}
