// Command attack runs the adversarial suite of issue 20 and writes its
// report: go run ./attack/cmd/attack -bin bin/plexus -out bench/attack.md
// ("make attack" builds the binary first). -only runs some rows (-only 1,5);
// -quick uses the reduced sizes of "make test".
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plexus-p2p/plexus/attack"
)

func main() {
	bin := flag.String("bin", "bin/plexus", "the plexus binary to attack")
	out := flag.String("out", "bench/attack.md", "the markdown report to write")
	only := flag.String("only", "", "comma-separated rows to run (default: all)")
	quick := flag.Bool("quick", false, "reduced sizes (as in make test)")
	limit := flag.Duration("scenario-timeout", 5*time.Minute, "bound on each scenario")
	flag.Parse()
	if err := run(*bin, *out, *only, *quick, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
}

func run(bin, out, only string, quick bool, limit time.Duration) error {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("plexus binary: %w (run make build)", err)
	}
	var rows []int
	for _, f := range strings.Split(only, ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("-only %q: %w", only, err)
			}
			rows = append(rows, n)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	var outs []attack.Outcome
	for _, s := range attack.Scenarios {
		if len(rows) > 0 && !slices.Contains(rows, s.Row) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(os.Stderr, "== %d. %s\n", s.Row, s.Name)
		o := attack.RunScenario(ctx, s, abs, quick, limit, func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "   "+format+"\n", args...)
		})
		if o.Err != nil {
			fmt.Fprintf(os.Stderr, "   error: %v\n", o.Err)
		} else {
			fmt.Fprintf(os.Stderr, "   %s\n", o.Result.Summary())
		}
		outs = append(outs, o)
	}
	var buf bytes.Buffer
	attack.WriteReport(&buf, outs, quick, started, commit())
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", out)
	return nil
}

func commit() string {
	b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
