package auth

import (
	"fmt"
	"testing"
	"time"
)

// A flood of new keys keeps the limiter at its bound and does not push out
// a key under attack.
func TestLimiterBounded(t *testing.T) {
	l := newLimiter(limits{free: 5, base: time.Second, max: time.Minute, forget: time.Hour, entries: 100})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 8 {
		l.fail("victim", now)
	}
	for i := range 10000 {
		now = now.Add(time.Microsecond)
		l.fail(fmt.Sprintf("flood-%d", i), now)
		if n := l.len(); n > 100 {
			t.Fatalf("%d keys tracked after %d new ones, bound 100", n, i+1)
		}
	}
	if d := l.wait("victim", now); d <= 0 {
		t.Fatal("the flood pushed out the key under attack")
	}
	// Keys whose failures are forgotten make room first.
	now = now.Add(2 * time.Hour)
	l.fail("late", now)
	if st := l.m["victim"]; st != nil {
		t.Fatalf("forgotten key still tracked: %+v", st)
	}
	if n := l.len(); n != 1 {
		t.Fatalf("%d keys tracked, want only the new one", n)
	}
	// A forgotten key starts afresh: 5 free failures again.
	for range 5 {
		if d := l.fail("victim", now); d != 0 {
			t.Fatalf("forgotten key waits %s", d)
		}
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":            "127.0.0.1",
		"[::1]:5000":                "::/64",
		"[2001:db8:1:2:3:4:5:6]:80": "2001:db8:1:2::/64",
		"[::ffff:10.0.0.1]:80":      "10.0.0.1",
		"[fe80::1%eth0]:80":         "fe80::/64",
		"10.0.0.2":                  "10.0.0.2",
		"":                          "?",
		"not an address":            "?not an address",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}
