package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/node"
)

// DaemonLogFile is the file in the repo that "plexus daemon --detach"
// sends the daemon's output to (appended).
const DaemonLogFile = "daemon.log"

// readyFDFlag is the hidden flag through which --detach hands the daemon
// the write end of a pipe; the daemon writes one readyReport on it.
const readyFDFlag = "ready-fd"

// readyReport is what a detached daemon tells the command that started it:
// either that it is ready (peer ID, addresses, API) or why it failed.
type readyReport struct {
	PID    int      `json:"pid"`
	PeerID string   `json:"peer_id,omitempty"`
	Addrs  []string `json:"addrs,omitempty"`
	API    string   `json:"api,omitempty"`
	Log    string   `json:"log,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// readyReporter writes the daemon's readyReport once, to the file
// descriptor --detach passed; it does nothing without one.
type readyReporter struct{ f *os.File }

func newReadyReporter(fd int) *readyReporter {
	if fd <= 0 {
		return &readyReporter{}
	}
	return &readyReporter{f: os.NewFile(uintptr(fd), "ready")}
}

func (r *readyReporter) ok(id node.Info, api string) {
	rep := readyReport{PID: os.Getpid(), PeerID: id.ID.String(), API: api}
	for _, a := range id.Addrs {
		rep.Addrs = append(rep.Addrs, a.String())
	}
	r.send(rep)
}

// fail reports err when the daemon did not become ready.
func (r *readyReporter) fail(err error) {
	if err != nil {
		r.send(readyReport{PID: os.Getpid(), Error: strings.ReplaceAll(err.Error(), "\n", "; ")})
	}
}

func (r *readyReporter) send(rep readyReport) {
	if r.f == nil {
		return
	}
	json.NewEncoder(r.f).Encode(rep)
	r.f.Close()
	r.f = nil
}

// detachDaemon starts this same command again in the background, in a new
// session, with its output appended to <repo>/daemon.log, and waits (at most
// --timeout) for it to report that it is ready. A daemon that fails to start
// is reported with its error and a non-zero exit; one that is not ready in
// time is stopped.
func detachDaemon(cmd *cobra.Command, g *globals) error {
	repo, err := g.openRepo()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(repo.Path, 0o700); err != nil {
		return fmt.Errorf("create repo %s: %w", repo.Path, err)
	}
	logPath := repo.File(DaemonLogFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the plexus binary to start in the background: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	// The same command line; the last --detach wins.
	args := append(os.Args[1:], "--detach=false", "--"+readyFDFlag+"=3")
	child := exec.Command(exe, args...)
	child.Stdout, child.Stderr = logf, logf
	child.ExtraFiles = []*os.File{pw} // fd 3
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = child.Start()
	pw.Close()
	if err != nil {
		return fmt.Errorf("start the daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()

	pr.SetReadDeadline(time.Now().Add(g.timeout))
	b, rerr := io.ReadAll(io.LimitReader(pr, 1<<20))
	var rep readyReport
	switch {
	case errors.Is(rerr, os.ErrDeadlineExceeded):
		child.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			child.Process.Kill()
		}
		return fmt.Errorf("the daemon was not ready after %s, so it was stopped (raise --timeout; its log is %s)", g.timeout, logPath)
	case len(bytes.TrimSpace(b)) == 0 || json.Unmarshal(b, &rep) != nil:
		werr := <-exited
		return fmt.Errorf("the daemon exited before it was ready (%v); last lines of %s: %s", werr, logPath, lastLines(logPath, 3))
	case rep.Error != "":
		<-exited
		return fmt.Errorf("the daemon failed to start: %s (log: %s)", rep.Error, logPath)
	}
	child.Process.Release()
	rep.Log = logPath
	return g.print(cmd.OutOrStdout(), rep, func(w io.Writer) {
		fmt.Fprintf(w, "Daemon started in the background (pid %d); log: %s\nPeer ID: %s\nListening on:\n", rep.PID, rep.Log, rep.PeerID)
		for _, a := range rep.Addrs {
			fmt.Fprintf(w, "  %s\n", a)
		}
		fmt.Fprintf(w, "API:     http://%s\nDashboard: http://%s/ui/\nStop it with: plexus --repo %s shutdown\n", rep.API, rep.API, repo.Path)
	})
}

// lastLines returns the last n non-empty lines of a file, joined by " | ".
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// sdNotify sends a state ("READY=1", "STOPPING=1") to systemd when it
// started the daemon as a Type=notify service ($NOTIFY_SOCKET); otherwise it
// does nothing.
func sdNotify(log *slog.Logger, state string) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	if strings.HasPrefix(sock, "@") {
		sock = "\x00" + sock[1:] // abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err == nil {
		_, err = c.Write([]byte(state))
		c.Close()
	}
	if err != nil {
		log.Warn("could not notify systemd", "state", state, "err", err)
	}
}
