package perf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// headerLen is the size of the request header: the number of bytes the
// client wants back, as a big-endian uint64.
const headerLen = 8

// Stream is what the perf wire protocol needs from a byte stream.
// network.Stream, *net.TCPConn and *tls.Conn satisfy it; a QUIC stream does
// once CloseWrite is mapped to its Close.
type Stream interface {
	io.Reader
	io.Writer
	// CloseWrite closes the write side; the peer then reads EOF.
	CloseWrite() error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// ErrShortHeader reports that a client closed its side before sending the
// 8-byte request header.
var ErrShortHeader = errors.New("perf: stream closed before the 8-byte header")

// ErrWrongLength reports that the server sent a different number of bytes
// than the client asked for.
var ErrWrongLength = errors.New("perf: server sent a different number of bytes than requested")

// deadlines refreshes a stream's idle deadlines at most a few times per
// timeout, so that a busy transfer does not pay for a timer reset on every
// read or write.
type deadlines struct {
	s                   Stream
	idle                time.Duration
	readSet, writeSet   time.Time
	refreshAfterElapsed time.Duration
}

func newDeadlines(s Stream, idle time.Duration) *deadlines {
	return &deadlines{s: s, idle: idle, refreshAfterElapsed: idle / 4}
}

func (d *deadlines) read() error {
	if d.idle <= 0 {
		return nil
	}
	now := time.Now()
	if now.Sub(d.readSet) < d.refreshAfterElapsed {
		return nil
	}
	d.readSet = now
	return d.s.SetReadDeadline(now.Add(d.idle))
}

func (d *deadlines) write() error {
	if d.idle <= 0 {
		return nil
	}
	now := time.Now()
	if now.Sub(d.writeSet) < d.refreshAfterElapsed {
		return nil
	}
	d.writeSet = now
	return d.s.SetWriteDeadline(now.Add(d.idle))
}

// Transfer counts the bytes one perf exchange moved, seen from the server.
type Transfer struct {
	// Uploaded is how many bytes the client sent after the header.
	Uploaded uint64
	// Downloaded is how many bytes the server sent back.
	Downloaded uint64
	// Requested is the number the client asked for in its header.
	Requested uint64
}

// ServeStream runs the server side of one perf exchange on s: it reads the
// header, drains the upload until EOF, then writes the requested number of
// bytes and closes its write side. buf is the scratch buffer (its contents
// are overwritten); idle, when positive, bounds how long any single read or
// write may wait. On error the caller should reset the stream.
func ServeStream(s Stream, buf []byte, idle time.Duration) (Transfer, error) {
	return serveStream(s, buf, idle, 0)
}

// ErrOverLimit reports a request that asked for, or uploaded, more bytes
// than the server's limit (WithMaxBytes).
var ErrOverLimit = errors.New("perf: request over the server's byte limit")

// serveStream is ServeStream refusing, when limit is not zero, a request for
// more than limit bytes (before sending any) and an upload longer than limit.
func serveStream(s Stream, buf []byte, idle time.Duration, limit uint64) (Transfer, error) {
	var t Transfer
	if len(buf) < headerLen {
		return t, fmt.Errorf("perf: buffer of %d bytes is smaller than the header", len(buf))
	}
	dl := newDeadlines(s, idle)
	if err := dl.read(); err != nil {
		return t, fmt.Errorf("perf: set read deadline: %w", err)
	}
	if _, err := io.ReadFull(s, buf[:headerLen]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return t, ErrShortHeader
		}
		return t, fmt.Errorf("perf: read header: %w", err)
	}
	t.Requested = binary.BigEndian.Uint64(buf[:headerLen])
	if limit > 0 && t.Requested > limit {
		return t, fmt.Errorf("%w: asked for %d bytes, at most %d", ErrOverLimit, t.Requested, limit)
	}

	// The header may have arrived together with upload bytes; those are
	// simply read by the drain loop below.
	for {
		if err := dl.read(); err != nil {
			return t, fmt.Errorf("perf: set read deadline: %w", err)
		}
		n, err := s.Read(buf)
		t.Uploaded += uint64(n)
		if limit > 0 && t.Uploaded > limit {
			return t, fmt.Errorf("%w: uploaded more than %d bytes", ErrOverLimit, limit)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return t, fmt.Errorf("perf: read upload after %d bytes: %w", t.Uploaded, err)
		}
	}

	clear(buf)
	for t.Downloaded < t.Requested {
		chunk := buf
		if rest := t.Requested - t.Downloaded; rest < uint64(len(chunk)) {
			chunk = chunk[:rest]
		}
		if err := dl.write(); err != nil {
			return t, fmt.Errorf("perf: set write deadline: %w", err)
		}
		n, err := s.Write(chunk)
		t.Downloaded += uint64(n)
		if err != nil {
			return t, fmt.Errorf("perf: write response after %d of %d bytes: %w", t.Downloaded, t.Requested, err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		return t, fmt.Errorf("perf: close write: %w", err)
	}
	return t, nil
}

// RunStream runs the client side of one perf exchange on an open stream:
// it asks for download bytes, uploads upload bytes, closes its write side
// and reads the response until EOF. start is when the measurement began
// (for Run, before the stream was opened); TimeToFirstByte and Total are
// measured from it. bufSize is the write and read chunk size; values below
// 64 KiB are raised to 64 KiB.
func RunStream(s Stream, upload, download uint64, bufSize int, start time.Time) (Result, error) {
	return runStream(s, upload, download, bufSize, start, nil)
}

// runStream is RunStream reporting its progress to progress (when not nil).
func runStream(s Stream, upload, download uint64, bufSize int, start time.Time, progress func(Progress)) (Result, error) {
	res := Result{Upload: upload, Download: download}
	bufSize = max(bufSize, minBufferSize)
	// Do not allocate a large buffer for a small exchange.
	if need := max(satAdd(upload, headerLen), download); need < uint64(bufSize) {
		bufSize = int(need)
	}
	buf := make([]byte, bufSize)

	binary.BigEndian.PutUint64(buf[:headerLen], download)
	uploadStart := time.Now()
	up := newProgressReporter(progress, PhaseUpload, upload)
	// The first write carries the header together with the first upload
	// bytes, so a small exchange costs one frame.
	first := buf[:min(uint64(len(buf)), satAdd(upload, headerLen))]
	if _, err := s.Write(first); err != nil {
		return res, fmt.Errorf("perf: write header: %w", err)
	}
	sent := uint64(len(first) - headerLen)
	clear(buf[:headerLen])
	for sent < upload {
		chunk := buf
		if rest := upload - sent; rest < uint64(len(chunk)) {
			chunk = chunk[:rest]
		}
		n, err := s.Write(chunk)
		sent += uint64(n)
		if err != nil {
			return res, fmt.Errorf("perf: upload after %d of %d bytes: %w", sent, upload, err)
		}
		up.report(sent, false)
	}
	if err := s.CloseWrite(); err != nil {
		return res, fmt.Errorf("perf: close write: %w", err)
	}
	up.report(sent, true)

	var got uint64
	var firstByte time.Time
	var down *progressReporter
	for {
		n, err := s.Read(buf)
		if n > 0 && firstByte.IsZero() {
			firstByte = time.Now()
			down = newProgressReporter(progress, PhaseDownload, download)
		}
		got += uint64(n)
		if n > 0 && down != nil && got <= download {
			down.report(got, got == download)
		}
		if got > download {
			return res, fmt.Errorf("%w: asked for %d, got at least %d", ErrWrongLength, download, got)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("perf: download after %d of %d bytes: %w", got, download, err)
		}
	}
	end := time.Now()
	if got != download {
		return res, fmt.Errorf("%w: asked for %d, got %d", ErrWrongLength, download, got)
	}

	res.Total = end.Sub(start)
	if firstByte.IsZero() {
		// Nothing came back: the upload ended when the server closed.
		res.UploadDuration = end.Sub(uploadStart)
	} else {
		res.TimeToFirstByte = firstByte.Sub(start)
		res.UploadDuration = firstByte.Sub(uploadStart)
		res.DownloadDuration = end.Sub(firstByte)
	}
	res.UploadBitsPerSecond = bitsPerSecond(upload, res.UploadDuration)
	res.DownloadBitsPerSecond = bitsPerSecond(download, res.DownloadDuration)
	res.BitsPerSecond = bitsPerSecond(upload+download, res.Total)
	return res, nil
}

// satAdd adds without wrapping around.
func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func bitsPerSecond(n uint64, d time.Duration) float64 {
	if n == 0 || d <= 0 {
		return 0
	}
	return float64(n) * 8 / d.Seconds()
}
