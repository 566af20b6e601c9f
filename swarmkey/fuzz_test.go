package swarmkey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/plexus-p2p/plexus/swarmkey"
)

// FuzzParse reads swarm.key files: every refusal wraps ErrMalformed, and a
// key that parses is 32 bytes and survives Encode and Parse again.
func FuzzParse(f *testing.F) {
	key := bytes.Repeat([]byte{0xab}, swarmkey.Size)
	f.Add(swarmkey.Encode(key))
	f.Add([]byte(swarmkey.Header + "\r\n" + swarmkey.Base16 + "\r\n" + hex.EncodeToString(key) + "\r\n"))
	f.Add([]byte(swarmkey.Header + "\n" + swarmkey.Base64 + "\n" + base64.StdEncoding.EncodeToString(key)))
	f.Add([]byte(swarmkey.Header + "\n" + swarmkey.Binary + "\n" + string(bytes.Repeat([]byte{'\n'}, swarmkey.Size)) + "\r\n"))
	f.Add([]byte(swarmkey.Header + "\n"))
	f.Add([]byte("/key/swarm/psk/1.0.0/\n/base16/\nzz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := swarmkey.Parse(data)
		if err != nil {
			if !errors.Is(err, swarmkey.ErrMalformed) {
				t.Fatalf("refusal does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if len(k) != swarmkey.Size {
			t.Fatalf("parsed a %d-byte key", len(k))
		}
		again, err := swarmkey.Parse(swarmkey.Encode(k))
		if err != nil || !bytes.Equal(again, k) {
			t.Fatalf("re-encoded key does not parse back: %v", err)
		}
		_ = swarmkey.Fingerprint(k)
	})
}
