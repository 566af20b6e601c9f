//go:build natlab

package nat

import (
	"fmt"
	"os"
	"strings"
)

// In binaries built with -tags natlab (the NAT lab's, never a release),
// PLEXUS_NATLAB_PUBLIC lists comma-separated CIDR ranges that go-libp2p
// treats as public: the lab's "internet" uses a private range, and go-libp2p
// hole-punches, probes AutoNAT and keeps relay addresses only for public
// ones. It runs before any host exists.
func init() {
	v := os.Getenv("PLEXUS_NATLAB_PUBLIC")
	if v == "" {
		return
	}
	for _, cidr := range strings.Split(v, ",") {
		if err := treatAsPublic(strings.TrimSpace(cidr)); err != nil {
			fmt.Fprintln(os.Stderr, "PLEXUS_NATLAB_PUBLIC:", err)
			os.Exit(2)
		}
	}
}
