package main

import (
	"slices"
	"testing"

	"github.com/plexus-p2p/plexus/config"
)

// At SIGHUP the daemon names the config sections that changed but need a
// restart; log is applied, so never named.
func TestChangedSections(t *testing.T) {
	a := config.Default()
	b := config.Default()
	if got := changedSections(a, b); len(got) != 0 {
		t.Fatalf("identical configs: %v", got)
	}
	b.Log.Level = "debug"
	b.ConnManager.HighWater++
	b.API.AllowRemote = true
	if got := changedSections(a, b); !slices.Equal(got, []string{"conn_manager", "api"}) {
		t.Fatalf("changed sections %v, want conn_manager and api", got)
	}
}

func TestIBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3000000: "2.9 MiB", 2 << 30: "2.0 GiB"} {
		if got := ibytes(n); got != want {
			t.Errorf("ibytes(%d) = %q, want %q", n, got, want)
		}
	}
}
