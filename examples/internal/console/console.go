// Package console is the terminal of the example apps: it reads command
// lines and prints the app's output. On a terminal it is a line editor
// (github.com/chzyer/readline: history, Tab completion, output printed
// above the prompt); otherwise it reads plain lines, so that scripts and
// tests drive an app through its standard input and output.
package console

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/chzyer/readline"
)

// Options configure the line editor; they do not matter off a terminal.
type Options struct {
	// Prompt is shown before each line.
	Prompt string
	// History is the file where typed lines are kept across runs ("" for none).
	History string
	// Complete completes a line on Tab, nil for no completion
	// (readline.NewPrefixCompleter builds one from the commands).
	Complete readline.AutoCompleter
	// Erase removes each line from the screen once it is entered, for
	// apps that print what was sent themselves (a chat).
	Erase bool
}

// Console is an app's terminal.
type Console struct {
	rl  *readline.Instance // nil when not on a terminal
	in  *bufio.Scanner
	mu  sync.Mutex
	out io.Writer
}

// New returns the console of in and out: a line editor when both are
// terminals, plain lines otherwise.
func New(in io.Reader, out io.Writer, o Options) *Console {
	fi, inFile := in.(*os.File)
	fo, outFile := out.(*os.File)
	if inFile && outFile && readline.IsTerminal(int(fi.Fd())) && readline.IsTerminal(int(fo.Fd())) {
		rl, err := readline.NewEx(&readline.Config{Prompt: o.Prompt, HistoryFile: o.History, AutoComplete: o.Complete,
			UniqueEditLine: o.Erase})
		if err == nil {
			return &Console{rl: rl, out: rl.Stdout()}
		}
	}
	return &Console{in: bufio.NewScanner(in), out: out}
}

// Printf prints; it may be called from any goroutine, also while a line
// is being typed.
func (c *Console) Printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, format, args...)
}

// Error prints err on one line: "error: " and the message, with libp2p's
// multi-line dial errors folded.
func (c *Console) Error(err error) { c.Printf("error: %s\n", OneLine(err)) }

// OneLine returns err's message on one line.
func OneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// Close gives the terminal back.
func (c *Console) Close() {
	if c.rl != nil {
		c.rl.Close()
	}
}

// Lines delivers the input lines until the end of the input (Ctrl-D, or
// Ctrl-C on an empty line), then closes the channel. It stops early when
// done is closed. Off a terminal, a line longer than 64 KiB ends the input
// with an error message.
func (c *Console) Lines(done <-chan struct{}) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		for {
			line, err := c.readLine()
			if err != nil {
				return
			}
			select {
			case ch <- line:
			case <-done:
				return
			}
		}
	}()
	return ch
}

func (c *Console) readLine() (string, error) {
	if c.rl == nil {
		if c.in.Scan() {
			return c.in.Text(), nil
		}
		if err := c.in.Err(); err != nil {
			c.Printf("error: reading input: %s\n", err)
			return "", err
		}
		return "", io.EOF
	}
	for {
		line, err := c.rl.Readline()
		if !errors.Is(err, readline.ErrInterrupt) || line == "" {
			return line, err
		}
		// Ctrl-C on a line being typed clears it.
	}
}
