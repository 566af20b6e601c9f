package messaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// fuzzLimit is the frame limit the fuzz targets decode with: small, so that
// the fuzzer reaches the "too large" branch with short inputs.
const fuzzLimit = 4096

// FuzzReadFrame decodes a request frame (uvarint length, payload) as the
// server does: a frame is either refused with an error or decoded to at
// most the limit, without reading past it, and its payload is exactly the bytes after the length.
func FuzzReadFrame(f *testing.F) {
	f.Add(encodeRequest(nil))
	f.Add(encodeRequest([]byte("hello")))
	f.Add(encodeRequest(bytes.Repeat([]byte{'x'}, fuzzLimit)))
	f.Add(encodeRequest(bytes.Repeat([]byte{'x'}, fuzzLimit+1)))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(append(encodeRequest([]byte("ab")), "trailing"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		payload, err := readFrame(r, fuzzLimit)
		if err != nil {
			if payload != nil {
				t.Fatalf("error %v with a payload of %d bytes", err, len(payload))
			}
			if !errors.Is(err, errFrameTooLarge) && !errors.Is(err, errMalformedFrame) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if len(payload) > fuzzLimit {
			t.Fatalf("payload of %d bytes above the limit %d", len(payload), fuzzLimit)
		}
		// The payload is the last bytes read: nothing past the frame was
		// consumed. (A length in a non-minimal varint, such as 0x80 0x00
		// for 0, is accepted, as encoding/binary does.)
		consumed := len(data) - r.Len()
		if !bytes.Equal(payload, data[consumed-len(payload):consumed]) {
			t.Fatalf("payload %x is not the end of the %d bytes read from %x", payload, consumed, data)
		}
		if _, k := binary.Uvarint(data); k+len(payload) != consumed {
			t.Fatalf("read %d bytes for a %d-byte length and a %d-byte payload", consumed, k, len(payload))
		}
	})
}

// FuzzReadResponse decodes a response (status byte, uvarint length,
// payload) as the client does, and the error a caller would see for a
// non-OK status: the message is bounded and valid UTF-8.
func FuzzReadResponse(f *testing.F) {
	f.Add(encodeResponse(StatusOK, []byte("pong")))
	f.Add(encodeResponse(StatusHandlerError, []byte("boom")))
	f.Add(encodeResponse(StatusBusy, []byte("busy")))
	f.Add(encodeResponse(Status(200), []byte{0xff, 0xfe}))
	f.Add(encodeResponse(StatusHandlerError, bytes.Repeat([]byte("é"), 800)))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		st, err := readStatus(r)
		if err != nil {
			if len(data) != 0 {
				t.Fatalf("status of %x: %v", data, err)
			}
			return
		}
		payload, err := readFrame(r, fuzzLimit)
		if err != nil {
			return
		}
		if st == StatusOK {
			return
		}
		e := statusError(st, payload, 10)
		if e == nil {
			t.Fatalf("status %d: no error", st)
		}
		// The message is bounded by maxErrorMessage plus the fixed text.
		if msg := e.Error(); len(msg) > maxErrorMessage+200 {
			t.Fatalf("status %d: error of %d bytes", st, len(msg))
		}
	})
}

// FuzzReadBody feeds readBody an announced length and the bytes that
// arrive, with a reservation that refuses past a budget: it returns
// exactly n bytes or an error, and never reserves more than it was granted.
func FuzzReadBody(f *testing.F) {
	f.Add(uint32(5), []byte("hello"), uint32(1<<20))
	f.Add(uint32(1<<20), []byte("short"), uint32(1<<20))
	f.Add(uint32(200000), bytes.Repeat([]byte{1}, 200000), uint32(100000))
	f.Add(uint32(0), []byte{}, uint32(0))
	f.Fuzz(func(t *testing.T, n uint32, data []byte, budget uint32) {
		n %= 1 << 21 // at most 2 MiB, the largest maximum message size in use
		granted := 0
		reserve := func(b int) error {
			if granted+b > int(budget) {
				return errors.New("over budget")
			}
			granted += b
			return nil
		}
		got, err := readBody(bytes.NewReader(data), int(n), reserve)
		if err != nil {
			if errors.Is(err, errReserve) && granted > int(budget) {
				t.Fatalf("granted %d over a budget of %d", granted, budget)
			}
			return
		}
		if len(got) != int(n) || !bytes.Equal(got, data[:n]) {
			t.Fatalf("read %d bytes of a %d-byte frame", len(got), n)
		}
		if granted > int(n)+readChunk && granted > 2*int(n) {
			t.Fatalf("reserved %d bytes for a %d-byte frame", granted, n)
		}
	})
}
