package messaging

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// This file encodes and decodes the frames described under "Wire format" in
// the package documentation (doc.go).

// Status is the first byte of a response.
type Status byte

// Response statuses.
const (
	// StatusOK: the payload is the handler's response.
	StatusOK Status = 0
	// StatusHandlerError: the handler failed (or panicked); the payload is its error message.
	StatusHandlerError Status = 1
	// StatusRequestTooLarge: the request length exceeded the server's maximum message size.
	StatusRequestTooLarge Status = 2
	// StatusResponseTooLarge: the handler's response exceeded the server's maximum message size.
	StatusResponseTooLarge Status = 3
	// StatusBusy: the server was already handling its maximum number of requests.
	StatusBusy Status = 4
	// StatusBadRequest: the request frame was malformed.
	StatusBadRequest Status = 5
)

// String returns the status name.
func (st Status) String() string {
	switch st {
	case StatusOK:
		return "ok"
	case StatusHandlerError:
		return "handler error"
	case StatusRequestTooLarge:
		return "request too large"
	case StatusResponseTooLarge:
		return "response too large"
	case StatusBusy:
		return "busy"
	case StatusBadRequest:
		return "bad request"
	default:
		return fmt.Sprintf("status(%d)", byte(st))
	}
}

// maxErrorMessage bounds the error text carried in a non-OK response.
const maxErrorMessage = 1024

// errFrameTooLarge is returned by readFrame when the announced length exceeds the limit.
var errFrameTooLarge = errors.New("frame too large")

// errMalformedFrame is returned by readFrame when the length prefix is not a valid uvarint.
var errMalformedFrame = errors.New("malformed frame length")

// encodeRequest returns uvarint(len(req)) followed by req.
func encodeRequest(req []byte) []byte {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(req))
	buf = binary.AppendUvarint(buf, uint64(len(req)))
	return append(buf, req...)
}

// encodeResponse returns the status byte, uvarint(len(payload)) and payload.
func encodeResponse(st Status, payload []byte) []byte {
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+len(payload))
	buf = append(buf, byte(st))
	buf = binary.AppendUvarint(buf, uint64(len(payload)))
	return append(buf, payload...)
}

// readStatus reads the status byte of a response.
func readStatus(r io.Reader) (Status, error) {
	var b [1]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	return Status(b[0]), nil
}

// readFrame reads uvarint(n) and then n bytes, refusing n > limit before
// reading or allocating the payload. It never reads past the frame, and
// grows its buffer as the bytes arrive (see readBody).
func readFrame(r io.Reader, limit int) ([]byte, error) {
	n, err := readFrameLength(r, limit)
	if err != nil {
		return nil, err
	}
	return readBody(r, n, nil)
}

// readFrameLength reads the uvarint length of a frame and refuses one above limit.
func readFrameLength(r io.Reader, limit int) (int, error) {
	n, err := binary.ReadUvarint(byteReader{r})
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("read frame length: %w", io.ErrUnexpectedEOF)
		}
		var pe *readErr
		if errors.As(err, &pe) {
			return 0, fmt.Errorf("read frame length: %w", pe.err)
		}
		return 0, fmt.Errorf("%w: %w", errMalformedFrame, err)
	}
	if n > uint64(limit) {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", errFrameTooLarge, n, limit)
	}
	return int(n), nil
}

// readChunk is the most readBody reads (and allocates ahead of the bytes
// received) at a time.
const readChunk = 64 << 10

// errReserve wraps a refusal of reserve in readBody.
var errReserve = errors.New("memory reservation refused")

// readBody reads exactly n bytes. It never allocates the n bytes up front:
// the buffer starts at one chunk (at most 64 KiB) and at most doubles, never
// beyond n, only once the bytes already received fill it, so a peer that
// announces a large frame and sends little costs little. Before each growth
// it calls reserve (when not nil) with the number of bytes the capacity
// grows by; a refusal stops the read with an error wrapping errReserve.
// The caller keeps count of what reserve granted, to release it.
func readBody(r io.Reader, n int, reserve func(int) error) ([]byte, error) {
	var buf []byte
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grow := min(n, max(readChunk, 2*cap(buf))) - cap(buf)
			if reserve != nil {
				if err := reserve(grow); err != nil {
					return nil, fmt.Errorf("%w: %d-byte frame, %d bytes received: %w", errReserve, n, len(buf), err)
				}
			}
			next := make([]byte, len(buf), cap(buf)+grow)
			copy(next, buf)
			buf = next
		}
		want := min(cap(buf), len(buf)+readChunk)
		m, err := io.ReadAtLeast(r, buf[len(buf):want], 1)
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) < n {
				err = io.ErrUnexpectedEOF
			}
			if len(buf) < n {
				return nil, fmt.Errorf("read %d-byte frame (%d received): %w", n, len(buf), err)
			}
		}
	}
	if buf == nil {
		buf = []byte{}
	}
	return buf, nil
}

// byteReader reads one byte at a time, so that decoding a varint never
// consumes bytes beyond it.
type byteReader struct{ r io.Reader }

// readErr marks an I/O error (as opposed to a varint overflow) while decoding a length.
type readErr struct{ err error }

func (e *readErr) Error() string { return e.err.Error() }
func (e *readErr) Unwrap() error { return e.err }

func (b byteReader) ReadByte() (byte, error) {
	var buf [1]byte
	_, err := io.ReadFull(b.r, buf[:])
	if err != nil {
		if err == io.EOF {
			return 0, io.EOF
		}
		return 0, &readErr{err}
	}
	return buf[0], nil
}

// truncate shortens s to at most n bytes on a UTF-8 boundary, marking the cut.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
