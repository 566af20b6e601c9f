package node

import (
	"runtime"
	"runtime/debug"
	"time"
)

// Commit is the source revision, set at link time by builds that have no
// VCS information of their own (for example the container image:
// -ldflags "-X github.com/plexus-p2p/plexus/node.Commit=<rev>"). A revision
// the Go toolchain stamped into the binary takes precedence.
var Commit string

// libp2pModule is the module whose version Build reports as Libp2p.
const libp2pModule = "github.com/libp2p/go-libp2p"

// Build describes the running binary.
type Build struct {
	Version string // Plexus's version (Version)
	// Commit is the source revision: the one the Go toolchain stamped
	// (vcs.revision), else the link-time Commit; empty when unknown.
	Commit string
	// Modified reports whether the working tree had uncommitted changes
	// (only known from a toolchain stamp).
	Modified bool
	// CommitTime is the commit's time, zero when unknown.
	CommitTime time.Time
	Go         string // the Go toolchain, for example "go1.26.8"
	Platform   string // GOOS/GOARCH
	Libp2p     string // the go-libp2p module version linked in
}

// BuildInfo describes the running binary from runtime/debug.ReadBuildInfo.
func BuildInfo() Build {
	b := Build{Version: Version, Commit: Commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		case "vcs.time":
			b.CommitTime, _ = time.Parse(time.RFC3339, s.Value)
		}
	}
	for _, d := range bi.Deps {
		if d.Path == libp2pModule {
			if d.Replace != nil {
				d = d.Replace
			}
			b.Libp2p = d.Version
		}
	}
	return b
}
