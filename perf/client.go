package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"

	"github.com/plexus-p2p/plexus/internal/streamerr"
)

// Result is what one perf exchange measured on the client.
type Result struct {
	// Upload and Download are the byte counts sent and received (after the
	// header).
	Upload   uint64
	Download uint64
	// TimeToFirstByte runs from the start of Run (before the stream, and a
	// connection if there was none, is opened) to the first response byte.
	// Zero when Download is zero.
	TimeToFirstByte time.Duration
	// UploadDuration runs from the first write to the moment the server
	// confirmed it had drained the upload: its first response byte, or its
	// EOF when Download is zero.
	UploadDuration time.Duration
	// DownloadDuration runs from the first response byte to EOF.
	DownloadDuration time.Duration
	// Total runs from the start of Run to EOF.
	Total time.Duration
	// Throughputs in bits per second; zero when nothing was moved.
	UploadBitsPerSecond   float64
	DownloadBitsPerSecond float64
	// BitsPerSecond is (Upload+Download)*8/Total.
	BitsPerSecond float64
}

// Errors of Run, usable with errors.Is.
var (
	// ErrNotServed: the peer does not serve /perf/1.0.0 (a Plexus node with
	// perf.enabled = false, the default profile's setting).
	ErrNotServed = errors.New("peer does not serve perf")
	// ErrRefused: the peer reset the exchange because it asked for more
	// than the peer's byte limit, the peer was at its limit of concurrent
	// transfers, or this node is not among the peers it serves.
	ErrRefused = errors.New("peer refused the perf exchange")
)

type runConfig struct {
	bufSize  int
	progress func(Progress)
}

// Phases of a Run, as reported in Progress.
const (
	PhaseUpload   = "upload"
	PhaseDownload = "download"
)

// progressInterval is how often WithProgress reports a running phase.
const progressInterval = 250 * time.Millisecond

// Progress is how far a Run has got, as reported to WithProgress.
type Progress struct {
	// Phase is PhaseUpload while the client sends, then PhaseDownload
	// while it receives.
	Phase string
	// Bytes is what the phase has moved so far, of Total.
	Bytes, Total uint64
	// Elapsed runs from the start of the phase.
	Elapsed time.Duration
}

// WithProgress has Run call fn, on Run's goroutine, about every 250 ms while
// a phase moves bytes and once when each phase (of a non-zero size) has
// completed. Default: no reports.
func WithProgress(fn func(Progress)) RunOption {
	return func(c *runConfig) error {
		if fn == nil {
			return errors.New("perf: nil progress function")
		}
		c.progress = fn
		return nil
	}
}

// progressReporter throttles a phase's reports.
type progressReporter struct {
	fn           func(Progress)
	phase        string
	total        uint64
	start, since time.Time
}

func newProgressReporter(fn func(Progress), phase string, total uint64) *progressReporter {
	now := time.Now()
	return &progressReporter{fn: fn, phase: phase, total: total, start: now, since: now}
}

// report reports bytes when the interval has passed since the last report,
// or always when done.
func (r *progressReporter) report(bytes uint64, done bool) {
	if r.fn == nil || r.total == 0 {
		return
	}
	now := time.Now()
	if !done && now.Sub(r.since) < progressInterval {
		return
	}
	r.since = now
	r.fn(Progress{Phase: r.phase, Bytes: bytes, Total: r.total, Elapsed: now.Sub(r.start)})
}

// RunOption configures Run.
type RunOption func(*runConfig) error

// WithRunBufferSize sets the client's write and read chunk size.
// Default: 256 KiB; allowed 64 KiB to 16 MiB.
func WithRunBufferSize(n int) RunOption {
	return func(c *runConfig) error {
		if n < minBufferSize || n > maxBufferSize {
			return fmt.Errorf("perf: buffer size %d: must be between %d and %d", n, minBufferSize, maxBufferSize)
		}
		c.bufSize = n
		return nil
	}
}

// Run opens a perf stream to p (dialing if h is not connected), uploads
// upload bytes and downloads download bytes. Cancelling ctx resets the
// stream and makes Run return the context's error.
func Run(ctx context.Context, h host.Host, p peer.ID, upload, download uint64, opts ...RunOption) (Result, error) {
	cfg := runConfig{bufSize: defaultRunBufferSize}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return Result{}, err
		}
	}

	start := time.Now()
	st, err := openStream(ctx, h, p, upload <= lazyUploadMax)
	if err != nil {
		if nerr := notServed(p, err); nerr != nil {
			return Result{}, nerr
		}
		return Result{}, fmt.Errorf("perf: open stream to %s: %w", p, err)
	}
	if err := st.Scope().SetService(ServiceName); err != nil {
		_ = st.ResetWithError(network.StreamResourceLimitExceeded)
		return Result{}, fmt.Errorf("perf: attach stream to %s to service %s: %w", p, ServiceName, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()

	res, err := runStream(st, upload, download, cfg.bufSize, start, cfg.progress)
	if err != nil {
		_ = st.Reset()
		if cerr := context.Cause(ctx); cerr != nil {
			return res, fmt.Errorf("perf with %s: %w", p, cerr)
		}
		if nerr := notServed(p, err); nerr != nil {
			return res, nerr
		}
		if se, ok := streamerr.Reset(err); ok && se != nil && se.Remote {
			switch se.ErrorCode {
			case network.StreamResourceLimitExceeded:
				return res, fmt.Errorf("%w: %s refused %d up / %d down bytes: over its perf.max_bytes, or it is serving as many transfers as it allows: %w",
					ErrRefused, p, upload, download, err)
			case network.StreamGated:
				return res, fmt.Errorf("%w: %s serves perf only to the peers in its perf.allow_peers: %w", ErrRefused, p, err)
			}
		}
		return res, fmt.Errorf("perf with %s: %w", p, err)
	}
	_ = st.Close()
	return res, nil
}

// notServed returns ErrNotServed when err says p does not speak perf, nil
// otherwise: multistream-select's "na", or, after a lazy proposal (see
// openStream), the peer's reset for a failed protocol negotiation, which
// can overtake its "na".
func notServed(p peer.ID, err error) error {
	var ns msmux.ErrNotSupported[protocol.ID]
	se, reset := streamerr.Reset(err)
	if errors.As(err, &ns) || (reset && se != nil && se.Remote && se.ErrorCode == network.StreamProtocolNegotiationFailed) {
		return fmt.Errorf("%w: %s does not serve %s (perf is off on that node: perf.enabled = false): %w", ErrNotServed, p, ID, err)
	}
	return nil
}

// lazyUploadMax is the largest upload sent behind an unconfirmed protocol
// proposal (see openStream): it fits in a fresh Yamux stream's window, so a
// peer without perf answers "na" before the upload could stall, and the
// answer is read (as msmux.ErrNotSupported) once the upload is written.
const lazyUploadMax = 64 << 10

// openStream opens a perf stream to p, dialing if h has no connection, but
// without go-libp2p's wait for identify: host.NewStream waits until identify
// has finished on a new connection (to learn which protocols the peer
// speaks), which on a fresh connection is a round trip plus the building,
// signature check and storing of the peer's whole identify record, and
// then proposes the protocol lazily, in the packet of the first write. Perf
// knows the one protocol it wants, so it does not wait: identify runs
// alongside. It proposes lazily when lazy is set (a short exchange, where a
// round trip is a large part of the time) or identify has already said the
// peer serves perf; otherwise it spends one multistream-select round trip,
// so that a peer without perf is reported before a large upload starts.
// Either way a peer without perf surfaces as msmux.ErrNotSupported.
func openStream(ctx context.Context, h host.Host, p peer.ID, lazy bool) (network.Stream, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, negotiateTimeout)
		defer cancel()
	}
	s, err := h.Network().NewStream(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := s.SetProtocol(ID); err != nil {
		_ = s.Reset()
		return nil, err
	}
	if !lazy {
		if ps, err := h.Peerstore().SupportsProtocols(p, ID); err == nil && len(ps) == 1 {
			lazy = true
		}
	}
	if lazy {
		return &lazyStream{Stream: s, rw: msmux.NewMSSelect(s, ID)}, nil
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	err = msmux.SelectProtoOrFail(ID, s)
	if !stop() && err != nil {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	if err != nil {
		_ = s.Reset()
		return nil, err
	}
	return s, nil
}

// negotiateTimeout bounds openStream when ctx has no deadline, as
// go-libp2p's host does for NewStream.
const negotiateTimeout = 15 * time.Second

// lazyStream is a stream whose protocol proposal goes out with the first
// write (multistream-select's lazy client), like go-libp2p's host streams
// to a protocol identify has confirmed.
type lazyStream struct {
	network.Stream
	rw io.ReadWriteCloser
}

func (s *lazyStream) Read(b []byte) (int, error)  { return s.rw.Read(b) }
func (s *lazyStream) Write(b []byte) (int, error) { return s.rw.Write(b) }
func (s *lazyStream) Close() error                { return s.rw.Close() }

// CloseWrite sends the proposal if nothing was written yet, then closes
// the write side; an error of the proposal surfaces on the next read.
func (s *lazyStream) CloseWrite() error {
	if f, ok := s.rw.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
	return s.Stream.CloseWrite()
}
