package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plexus-p2p/plexus/api/wire"
)

// progressLine is a one-line progress report rewritten in place on a
// terminal. A nil *progressLine shows nothing.
type progressLine struct {
	w     io.Writer
	shown bool
}

// newProgressLine returns a progress line on out when out is a terminal and
// --json is off, otherwise nil: scripts and pipes see only the result.
func newProgressLine(g *globals, out io.Writer) *progressLine {
	if g.json || !isTerminal(out) {
		return nil
	}
	return &progressLine{w: out}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (p *progressLine) show(format string, args ...any) {
	if p == nil {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K"+format, args...)
	p.shown = true
}

// clear erases the line, before the result is printed.
func (p *progressLine) clear() {
	if p == nil || !p.shown {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
	p.shown = false
}

func (p *progressLine) perf(v wire.PerfProgress) {
	pct := 100.0
	if v.TotalBytes > 0 {
		pct = float64(v.Bytes) * 100 / float64(v.TotalBytes)
	}
	p.show("%-9s %s of %s (%.0f%%), %.3f Gbit/s, %s", v.Phase+":", ibytes(v.Bytes), ibytes(v.TotalBytes), pct, v.BPS/1e9,
		msDuration(v.ElapsedMS).Round(100*time.Millisecond))
}

func (p *progressLine) explore(v wire.ExploreProgress) {
	if v.Phase == "identify" {
		p.show("explore: %d nodes found, identifying %d, %s", v.Found, v.Identify, msDuration(v.ElapsedMS).Round(100*time.Millisecond))
		return
	}
	p.show("explore: %d nodes found, %d answered, %d failed, %s", v.Found, v.Dialable, v.Failed, msDuration(v.ElapsedMS).Round(100*time.Millisecond))
}

// ibytes formats a byte count with binary units.
func ibytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
