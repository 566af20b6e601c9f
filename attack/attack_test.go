package attack_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/attack"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plexus-attack-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "plexus")
	build := exec.Command("go", "build", "-o", binary, "../cmd/plexus")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build plexus:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	testnet.VerifyNoLeaks(m)
}

// TestAttackSmoke runs every scenario of issue 20 at reduced size against
// real daemons. Rows marked Fixed in attack.Scenarios must meet their goal;
// the others are known failures, logged (and skipped with -short) until
// their fix merges and the row's Fixed is set to true.
func TestAttackSmoke(t *testing.T) {
	for _, s := range attack.Scenarios {
		t.Run(fmt.Sprintf("row%02d-%s", s.Row, strings.NewReplacer(" ", "-", "/", "").Replace(s.Name)), func(t *testing.T) {
			if !s.Fixed && testing.Short() {
				t.Skipf("known failure of issue 20 row %d (not Fixed yet)", s.Row)
			}
			o := attack.RunScenario(t.Context(), s, binary, true, 3*time.Minute, t.Logf)
			if o.Err != nil {
				t.Fatalf("scenario did not run: %v", o.Err)
			}
			r := o.Result
			t.Logf("%s", r.Summary())
			for _, n := range r.Notes {
				t.Logf("note: %s", n)
			}
			switch {
			case s.Fixed && !r.Pass():
				t.Errorf("issue 20 row %d (%s) misses its goal: %s", s.Row, s.Name, strings.Join(r.Failures(), "; "))
			case !s.Fixed && r.Pass():
				t.Logf("issue 20 row %d now meets its goal at this size: set Fixed: true in attack/scenarios.go", s.Row)
			case !s.Fixed:
				t.Logf("known failure of issue 20 row %d, not asserted until Fixed: %s", s.Row, strings.Join(r.Failures(), "; "))
			}
		})
	}
}
