// Package attack is the adversarial suite of issue 20: each scenario starts
// real plexus daemons (the built binary, --profile local, temporary repos)
// and attacks one of them with hostile go-libp2p hosts written to
// misbehave, while good peers keep using it. Everything is on loopback,
// bounded in count and time, and stopped at the end of the scenario.
//
// "make attack" runs the full sizes (cmd/attack) and writes bench/attack.md;
// TestAttackSmoke runs the quick sizes in "make test".
package attack

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// MiB is a mebibyte.
const MiB = 1 << 20

// DefaultMemBound is the target's peak RSS bound of a scenario that states
// none: an idle daemon uses about 40-60 MiB here.
const DefaultMemBound = 256 * MiB

// Scenario is one attack of issue 20's table.
type Scenario struct {
	Row    int    // the row
	Name   string // short name
	Attack string // what the hostile peers do (full size)
	Goal   string // what passes
	// Fixed says main meets the goal; TestAttackSmoke asserts the goal only
	// for fixed rows. Flip a row on here when its fix merges.
	Fixed bool
	Run   func(ctx context.Context, e *Env) (*Result, error)
}

// Result is what a scenario measured.
type Result struct {
	During, After Rate          // good peers' successes during and after the attack
	Recovery      time.Duration // after the attack until a good peer succeeded; 0: never failed; -1: never recovered; -2: not measured
	Cost          *Cost         // the attackers'
	Peak          Usage         // the target's peaks
	MetricsMisses int           // /metrics reads that failed during the scenario
	MemBound      int64         // the bound on the target's peak RSS
	// Checks are the scenario's own conditions beyond the success rate and
	// the memory bound (false fails the goal), each with what was seen.
	Checks []Check
	Notes  []string
	Scaled string // where the sizes are below the issue's
	// Probed says good peers tried during the attack; then a phase without a
	// single attempt fails.
	Probed bool
}

// Check is one condition of a scenario's goal.
type Check struct {
	Name string
	OK   bool
	Seen string
}

func (r *Result) check(name string, ok bool, format string, args ...any) {
	r.Checks = append(r.Checks, Check{name, ok, fmt.Sprintf(format, args...)})
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// MinSuccess is the goal's success rate of good peers during an attack.
const MinSuccess = 0.95

// Failures lists why the result misses the goal; empty when it meets it.
func (r *Result) Failures() []string {
	var out []string
	if r.Probed && r.During.N == 0 {
		out = append(out, "no good-peer attempt started during the attack")
	}
	if r.During.N > 0 && r.During.Frac() < MinSuccess {
		out = append(out, fmt.Sprintf("good peers %s during the attack, want >= %.0f%%", r.During, 100*MinSuccess))
	}
	if r.MemBound > 0 && r.Peak.RSS > r.MemBound {
		out = append(out, fmt.Sprintf("peak RSS %s above the bound %s", bytesString(r.Peak.RSS), bytesString(r.MemBound)))
	}
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.Name+": "+c.Seen)
		}
	}
	return out
}

// Pass reports whether the result meets the goal.
func (r *Result) Pass() bool { return len(r.Failures()) == 0 }

// Summary is one line for logs.
func (r *Result) Summary() string {
	verdict := "PASS"
	if f := r.Failures(); len(f) > 0 {
		verdict = "FAIL: " + strings.Join(f, "; ")
	}
	return fmt.Sprintf("during %s, after %s, recovery %s, cost %s, peak RSS %s, goroutines %d, fds %d: %s",
		r.During, r.After, recoveryString(r.Recovery), r.Cost, bytesString(r.Peak.RSS), r.Peak.Goroutines, r.Peak.FDs, verdict)
}

func recoveryString(d time.Duration) string {
	switch {
	case d == -2:
		return "n/a"
	case d < 0:
		return "not recovered"
	case d == 0:
		return "-"
	case d < 100*time.Millisecond:
		return "<0.1s"
	}
	return d.Round(100 * time.Millisecond).String()
}

// RunScenario runs one scenario in its own environment, bounded by limit,
// and cleans up every process and host it started.
func RunScenario(ctx context.Context, s Scenario, bin string, quick bool, limit time.Duration, log func(string, ...any)) Outcome {
	start := time.Now()
	e, err := NewEnv(bin, quick, log)
	if err != nil {
		return Outcome{Scenario: s, Err: err}
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	r, err := s.Run(ctx, e)
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("scenario did not finish within %s", limit)
	}
	return Outcome{Scenario: s, Result: r, Err: err, Took: time.Since(start)}
}
