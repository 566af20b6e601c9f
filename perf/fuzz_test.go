package perf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/perf"
)

// fuzzStream is a perf.Stream fed from fixed bytes that accepts at most
// budget bytes of response, so a header asking for 2^64 bytes ends quickly.
type fuzzStream struct {
	in      *bytes.Reader
	written uint64
	budget  uint64
	closed  bool
}

var errBudget = errors.New("response budget spent")

func (s *fuzzStream) Read(p []byte) (int, error) { return s.in.Read(p) }
func (s *fuzzStream) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errors.New("write after close")
	}
	if rest := s.budget - s.written; uint64(len(p)) > rest {
		s.written += rest
		return int(rest), errBudget
	}
	s.written += uint64(len(p))
	return len(p), nil
}
func (s *fuzzStream) CloseWrite() error                { s.closed = true; return nil }
func (s *fuzzStream) SetReadDeadline(time.Time) error  { return nil }
func (s *fuzzStream) SetWriteDeadline(time.Time) error { return nil }

// FuzzServeStream runs the server side of perf on what a remote peer sends:
// the 8-byte big-endian header (the number of bytes it wants back) and an
// upload. The server reads the header it was sent, counts the upload
// exactly, and never sends more than asked.
func FuzzServeStream(f *testing.F) {
	hdr := func(n uint64, upload string) []byte {
		return append(binary.BigEndian.AppendUint64(nil, n), upload...)
	}
	f.Add(hdr(0, ""))
	f.Add(hdr(10, "upload bytes"))
	f.Add(hdr(1<<30, ""))       // the anonymous 1 GiB request
	f.Add(hdr(^uint64(0), "x")) // 2^64-1
	f.Add([]byte{1, 2, 3})      // short header
	f.Add([]byte{})
	const budget = 256 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &fuzzStream{in: bytes.NewReader(data), budget: budget}
		tr, err := perf.ServeStream(s, make([]byte, 64<<10), time.Second)
		if len(data) < 8 {
			if !errors.Is(err, perf.ErrShortHeader) {
				t.Fatalf("%d-byte header: got %v, want ErrShortHeader", len(data), err)
			}
			return
		}
		want := binary.BigEndian.Uint64(data)
		if tr.Requested != want {
			t.Fatalf("requested %d, header says %d", tr.Requested, want)
		}
		if tr.Uploaded != uint64(len(data)-8) {
			t.Fatalf("counted %d upload bytes, sent %d", tr.Uploaded, len(data)-8)
		}
		if tr.Downloaded > tr.Requested || tr.Downloaded != s.written {
			t.Fatalf("downloaded %d (stream saw %d) for a request of %d", tr.Downloaded, s.written, tr.Requested)
		}
		if want <= budget && (err != nil || !s.closed || tr.Downloaded != want) {
			t.Fatalf("request of %d within budget: %+v, closed %v, err %v", want, tr, s.closed, err)
		}
		if want > budget && !errors.Is(err, errBudget) {
			t.Fatalf("request of %d over budget: err %v", want, err)
		}
	})
}

var _ io.Reader = (*fuzzStream)(nil)
