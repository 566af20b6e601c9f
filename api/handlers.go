package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/config"
)

// errInvalid marks malformed input found by the API itself (400).
var errInvalid = errors.New("invalid argument")

// invalid returns an error that answers 400: "invalid argument: <message>".
// A %w in format keeps the cause.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errInvalid}, args...)...)
}

// decode reads a JSON body of at most the configured size into v, rejecting
// unknown fields and trailing data. On failure it has already written a 400
// or 413 answer and returns false.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body is larger than %d bytes", mbe.Limit))
		case errors.Is(err, io.EOF):
			writeError(w, http.StatusBadRequest, errors.New("empty request body: a JSON object is required"))
		default:
			writeError(w, http.StatusBadRequest, fmt.Errorf("invalid JSON body: %w", err))
		}
		return false
	}
	return true
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError writes err as the JSON error body with its status and code.
func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, wire.Error{Error: err.Error(), Code: codeOf(status)})
}

// fail maps err to a status (the error table) and writes it as JSON.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	if code >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, code, err)
}

// answer writes v as JSON, or the error with its status.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// parsePeerID parses a peer ID.
func parsePeerID(s string) (peer.ID, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("empty peer ID")
	}
	p, err := peer.Decode(s)
	if err != nil {
		return "", invalid("invalid peer ID %q: %w", s, err)
	}
	return p, nil
}

// parsePeerAddr parses a full multiaddr ending in /p2p/<peer ID>.
func parsePeerAddr(s string) (peer.AddrInfo, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return peer.AddrInfo{}, invalid("empty multiaddr: want a full multiaddr ending in /p2p/<peer ID>")
	}
	ai, err := config.ParsePeerAddr(s)
	if err != nil {
		return peer.AddrInfo{}, invalid("%w", err)
	}
	return ai, nil
}

// parseTarget parses a peer ID or a full multiaddr (ending in /p2p/<peer ID>).
func parseTarget(s string) (peer.AddrInfo, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "/") {
		return parsePeerAddr(s)
	}
	if s == "" {
		return peer.AddrInfo{}, invalid("empty target: want a peer ID or a full multiaddr ending in /p2p/<peer ID>")
	}
	p, err := parsePeerID(s)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	return peer.AddrInfo{ID: p}, nil
}

// queryInt reads an optional integer query parameter within [min, max]:
// def when it is absent; an empty value (?name=) is refused like any other
// that is not a number in range.
func queryInt(r *http.Request, name string, def, min, max int) (int, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return def, nil
	}
	v := q.Get(name)
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, invalid("invalid %s %q: want %d..%d", name, v, min, max)
	}
	return n, nil
}

// ms converts a duration to the wire's milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fromMS converts the wire's milliseconds to a duration.
func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// addrStrings converts multiaddrs to their string forms.
func addrStrings(addrs []ma.Multiaddr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
