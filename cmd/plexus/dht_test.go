package main

import (
	"bytes"
	"strings"
	"testing"
)

// run executes the CLI with args against an empty repo (no daemon) and
// returns its error.
func run(t *testing.T, args ...string) error {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--repo", t.TempDir(), "--api", "127.0.0.1:1", "--timeout", "2s"}, args...))
	return root.Execute()
}

// A TTL outside the bounds the config and the API apply is refused by the
// CLI before it asks the daemon, with the flag and the bounds in the error;
// an explicit --ttl 0 is refused too (leaving the flag out means the
// daemon's default).
func TestPutTTLBounds(t *testing.T) {
	for _, ttl := range []string{"1ns", "59s", "0", "-1h", "8761h"} {
		err := run(t, "dht", "put", "x", "v", "--ttl", ttl)
		if err == nil || !strings.Contains(err.Error(), "--ttl") || !strings.Contains(err.Error(), "is outside [1m0s, 8760h0m0s]") {
			t.Errorf("dht put --ttl %s: %v, want the TTL refused", ttl, err)
		}
	}
	for _, args := range [][]string{{"--ttl", "1m"}, nil} {
		err := run(t, append([]string{"dht", "put", "x", "v"}, args...)...)
		if err == nil || strings.Contains(err.Error(), "--ttl") {
			t.Errorf("dht put %v: %v, want the TTL accepted (and the missing daemon reported)", args, err)
		}
	}
}
