// Package apptest runs an example app in-process, through the app's
// run(ctx, stdin, stdout, args) function, and drives it as a person at a
// terminal would: it types lines on the app's standard input and waits for
// lines on its standard output. The input is not a terminal, so the app
// reads plain lines (see package console).
package apptest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout bounds every wait: it only catches a hung app, so it is generous.
const Timeout = 30 * time.Second

// RunFunc is an app's main logic.
type RunFunc func(ctx context.Context, in io.Reader, out io.Writer, args []string) error

// App is one running app.
type App struct {
	tb     testing.TB
	name   string
	in     *io.PipeWriter
	cancel context.CancelFunc
	exited chan struct{} // closed when run returns
	err    error         // run's result, set before exited is closed

	mu      sync.Mutex
	lines   []string      // complete output lines
	partial []byte        // output after the last newline
	changed chan struct{} // closed and replaced when a line arrives
	next    int           // first line Expect looks at
}

// Start runs the app with args. It is stopped (its input closed, as with
// Ctrl-D) in tb.Cleanup, which fails the test if it does not stop in time.
func Start(tb testing.TB, name string, run RunFunc, args ...string) *App {
	tb.Helper()
	inR, inW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	a := &App{tb: tb, name: name, in: inW, cancel: cancel, exited: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		a.err = run(ctx, inR, (*output)(a), args)
		inR.Close()
		close(a.exited)
	}()
	tb.Cleanup(func() {
		if err := a.Stop(); err != nil {
			tb.Errorf("%s: %v", name, err)
		}
	})
	return a
}

// Send types one line.
func (a *App) Send(line string) {
	a.tb.Helper()
	if _, err := io.WriteString(a.in, line+"\n"); err != nil {
		a.tb.Fatalf("%s: type %q: %v (the app has stopped)\n%s", a.name, line, err, a.Output())
	}
}

// Expect waits until an output line after the last one Expect matched
// matches pattern (a regular expression), and returns its submatches.
func (a *App) Expect(pattern string) []string {
	a.tb.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		m, changed := a.match(re)
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-a.exited:
			if m, _ := a.match(re); m != nil {
				return m
			}
			a.tb.Fatalf("%s stopped (%v) before printing a line matching %q:\n%s", a.name, a.err, pattern, a.Output())
		case <-deadline.C:
			a.tb.Fatalf("%s: no line matching %q after %s:\n%s", a.name, pattern, Timeout, a.Output())
		}
	}
}

// match looks for a line matching re after the last match, and returns
// its submatches, or nil and a channel closed when the next line arrives.
func (a *App) match(re *regexp.Regexp) ([]string, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := a.next; i < len(a.lines); i++ {
		if m := re.FindStringSubmatch(a.lines[i]); m != nil {
			a.next = i + 1
			return m, nil
		}
	}
	return nil, a.changed
}

// Stop closes the app's input and waits for run to return, and returns
// its error. It is idempotent.
func (a *App) Stop() error {
	a.in.Close()
	select {
	case <-a.exited:
		return a.err
	case <-time.After(Timeout):
		a.cancel()
		return fmt.Errorf("did not stop within %s of the end of its input", Timeout)
	}
}

// Output returns everything the app printed, for failure messages.
func (a *App) Output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return "  | " + strings.Join(append(a.lines, string(a.partial)), "\n  | ")
}

// output is the app's standard output.
type output App

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.lines = append(o.lines, string(o.partial[:i]))
		o.partial = o.partial[i+1:]
	}
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}
