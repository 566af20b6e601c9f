package testnet

import (
	"testing"
	"time"
)

// Eventually polls cond until it returns true, and fails the test when
// timeout passes first, with format and args (printed after the timeout).
// It polls often at first (10ms) and backs off to every 100ms, so that a
// condition that holds at once costs nothing and an expensive one (a CLI run,
// an HTTP call) is not hammered. The timeout only bounds a hung test: pick it
// generously.
//
// Arguments are formatted when the test fails: a pointer to a struct
// (printed with %+v) or a Lazy shows the state at that time rather than at
// the call.
func Eventually(tb testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	wait := 10 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: "+format, append([]any{timeout}, args...)...)
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Lazy is a description computed when it is printed: pass it to Eventually
// to report the state at the time of the failure, e.g.
//
//	testnet.Eventually(t, 10*time.Second, cond, "%s", testnet.Lazy(func() string {
//		return fmt.Sprintf("status %+v", svc.Status())
//	}))
type Lazy func() string

// String calls f.
func (f Lazy) String() string { return f() }
