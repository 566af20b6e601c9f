// Package swarmkey reads and writes the pre-shared key of a libp2p private
// network in the swarm.key file format that Kubo (go-ipfs) uses, so one key
// file works for both:
//
//	/key/swarm/psk/1.0.0/
//	/base16/
//	<64 hex digits: the 32-byte key>
//
// Parse also accepts Kubo's other encodings (/base64/ and /bin/) and is
// stricter than go-libp2p's decoder: a file with a wrong header, a key of
// the wrong length or anything after the key is refused with an error that
// names the problem. Fingerprint gives a short public name of a key for
// comparing two nodes without showing the secret.
package swarmkey

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/pnet"
)

// Header is the first line of a swarm key file.
const Header = "/key/swarm/psk/1.0.0/"

// Encodings of the key, the second line of the file.
const (
	Base16 = "/base16/"
	Base64 = "/base64/"
	Binary = "/bin/"
)

// Size is the length of a key in bytes.
const Size = 32

// MaxFileSize bounds what Parse reads: a swarm key file is under 100 bytes.
const MaxFileSize = 4096

// ErrMalformed wraps every reason Parse refuses a file.
var ErrMalformed = errors.New("malformed swarm key")

// Generate returns a new random key.
func Generate() (pnet.PSK, error) {
	k := make([]byte, Size)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate swarm key: %w", err)
	}
	return k, nil
}

// Encode returns the key as a swarm.key file in the base16 encoding, as
// Kubo's key generators write it.
func Encode(k pnet.PSK) []byte {
	return []byte(Header + "\n" + Base16 + "\n" + hex.EncodeToString(k) + "\n")
}

// Parse reads a swarm.key file. Lines may end in \n or \r\n; the key may be
// followed by one line end.
func Parse(data []byte) (pnet.PSK, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the file is empty (want the %q header, an encoding line and the key)", ErrMalformed, Header)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes is too long for a swarm key file (about 90 bytes)", ErrMalformed, len(data))
	}
	header, rest, ok := cutLine(data)
	if string(header) != Header {
		return nil, fmt.Errorf("%w: line 1 is %q, want %q", ErrMalformed, clip(header), Header)
	}
	if !ok {
		return nil, fmt.Errorf("%w: nothing after the header: want an encoding line (%s) and the key", ErrMalformed, Base16)
	}
	enc, body, ok := cutLine(rest)
	if !ok {
		return nil, fmt.Errorf("%w: line 2 is %q and no key follows", ErrMalformed, clip(enc))
	}
	switch string(enc) {
	case Base16:
		return parseText(body, "hex digits", 2*Size, func(s string) ([]byte, error) { return hex.DecodeString(s) })
	case Base64:
		return parseText(body, "base64 characters", base64.StdEncoding.EncodedLen(Size), base64.StdEncoding.DecodeString)
	case Binary:
		// The key's own bytes may be \r or \n: only a line end after
		// exactly Size bytes is one.
		key := body
		switch {
		case len(key) == Size+1 && key[Size] == '\n':
			key = key[:Size]
		case len(key) == Size+2 && string(key[Size:]) == "\r\n":
			key = key[:Size]
		}
		if len(key) != Size {
			return nil, fmt.Errorf("%w: the %s key is %d bytes, want %d", ErrMalformed, Binary, len(key), Size)
		}
		return pnet.PSK(bytes.Clone(key)), nil
	}
	return nil, fmt.Errorf("%w: line 2 is %q, want the encoding %s (or %s, %s)", ErrMalformed, clip(enc), Base16, Base64, Binary)
}

// parseText decodes the key line of a text encoding: exactly want
// characters, then at most a line end.
func parseText(body []byte, unit string, want int, decode func(string) ([]byte, error)) (pnet.PSK, error) {
	line, rest, _ := cutLine(body)
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%w: unexpected data after the key on line 3", ErrMalformed)
	}
	s := strings.TrimSpace(string(line))
	if len(s) != want {
		return nil, fmt.Errorf("%w: the key is %d %s, want %d (%d bytes)", ErrMalformed, len(s), unit, want, Size)
	}
	k, err := decode(s)
	if err != nil {
		return nil, fmt.Errorf("%w: the key is not valid %s: %w", ErrMalformed, unit, err)
	}
	if len(k) != Size {
		return nil, fmt.Errorf("%w: the key decodes to %d bytes, want %d", ErrMalformed, len(k), Size)
	}
	return k, nil
}

// Fingerprint names a key without revealing it: the first 16 hex digits of
// the SHA-256 of its 32 bytes. For a base16 file the shell computes the same
// with: tail -n 1 swarm.key | xxd -r -p | sha256sum | cut -c 1-16
func Fingerprint(k pnet.PSK) string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:8])
}

// cutLine splits data at its first line end (\n or \r\n); ok is false when
// there is none.
func cutLine(data []byte) (line, rest []byte, ok bool) {
	line, rest, ok = bytes.Cut(data, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), rest, ok
}

// clip shortens a line for an error message and keeps it printable.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
