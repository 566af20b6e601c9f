package swarmkey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/pnet"

	"github.com/plexus-p2p/plexus/swarmkey"
)

// A key file as Kubo's generators (ipfs-swarm-key-gen) write it.
const kuboFile = "/key/swarm/psk/1.0.0/\n/base16/\n" +
	"b014416087025d9e34862cedb87468f2a2e2b6cd99d288107f87a0641328b351\n"

func TestEncodeIsKuboFormat(t *testing.T) {
	k, err := swarmkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != swarmkey.Size {
		t.Fatalf("generated %d bytes", len(k))
	}
	file := swarmkey.Encode(k)
	lines := strings.Split(string(file), "\n")
	if len(lines) != 4 || lines[0] != swarmkey.Header || lines[1] != swarmkey.Base16 || lines[2] != hex.EncodeToString(k) || lines[3] != "" {
		t.Fatalf("encoded file %q", file)
	}
	// go-libp2p's decoder (the one Kubo uses) reads the same key.
	got, err := pnet.DecodeV1PSK(bytes.NewReader(file))
	if err != nil || !bytes.Equal(got, k) {
		t.Fatalf("go-libp2p decodes %x, %v; want %x", got, err, k)
	}
	back, err := swarmkey.Parse(file)
	if err != nil || !bytes.Equal(back, k) {
		t.Fatalf("Parse: %x, %v", back, err)
	}
	other, _ := swarmkey.Generate()
	if bytes.Equal(other, k) {
		t.Fatal("two generated keys are equal")
	}
}

func TestParseEncodings(t *testing.T) {
	want, _ := hex.DecodeString("b014416087025d9e34862cedb87468f2a2e2b6cd99d288107f87a0641328b351")
	// A binary key whose own last bytes are a line end.
	binKey := append(bytes.Repeat([]byte{7}, 30), '\r', '\n')
	cases := []struct {
		name, file string
		want       []byte
	}{
		{"kubo base16", kuboFile, want},
		{"upper-case key, no final newline", "/key/swarm/psk/1.0.0/\n/base16/\n" + strings.ToUpper(hex.EncodeToString(want)), want},
		{"windows line ends", strings.ReplaceAll(kuboFile, "\n", "\r\n"), want},
		{"base64", "/key/swarm/psk/1.0.0/\n/base64/\n" + base64.StdEncoding.EncodeToString(want) + "\n", want},
		{"bin", "/key/swarm/psk/1.0.0/\n/bin/\n" + string(want), want},
		{"bin ending in a line end", "/key/swarm/psk/1.0.0/\n/bin/\n" + string(binKey), binKey},
		{"bin ending in a line end, then one", "/key/swarm/psk/1.0.0/\n/bin/\n" + string(binKey) + "\n", binKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := swarmkey.Parse([]byte(c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k, c.want) {
				t.Fatalf("key %x, want %x", k, c.want)
			}
		})
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	hex64 := "b014416087025d9e34862cedb87468f2a2e2b6cd99d288107f87a0641328b351"
	cases := []struct{ name, file, msg string }{
		{"empty", "", "the file is empty"},
		{"an identity key", "CAESQ...base64 of a libp2p private key", `line 1 is "CAESQ...base64 of a libp2p private key", want "/key/swarm/psk/1.0.0/"`},
		{"wrong version", "/key/swarm/psk/2.0.0/\n/base16/\n" + hex64, `line 1 is "/key/swarm/psk/2.0.0/"`},
		{"header only", "/key/swarm/psk/1.0.0/", "nothing after the header"},
		{"no key", "/key/swarm/psk/1.0.0/\n/base16/", "no key follows"},
		{"unknown encoding", "/key/swarm/psk/1.0.0/\n/base58/\n" + hex64, `line 2 is "/base58/", want the encoding /base16/`},
		{"short key", "/key/swarm/psk/1.0.0/\n/base16/\n" + hex64[:62] + "\n", "the key is 62 hex digits, want 64 (32 bytes)"},
		{"long key", "/key/swarm/psk/1.0.0/\n/base16/\n" + hex64 + "00\n", "the key is 66 hex digits, want 64"},
		{"not hex", "/key/swarm/psk/1.0.0/\n/base16/\n" + strings.Repeat("zz", 32) + "\n", "the key is not valid hex digits"},
		{"trailing data", "/key/swarm/psk/1.0.0/\n/base16/\n" + hex64 + "\nsecond key\n", "unexpected data after the key"},
		{"bad base64", "/key/swarm/psk/1.0.0/\n/base64/\n" + strings.Repeat("!", 44) + "\n", "not valid base64"},
		{"short bin", "/key/swarm/psk/1.0.0/\n/bin/\nabc", "the /bin/ key is 3 bytes, want 32"},
		{"huge", strings.Repeat("x", swarmkey.MaxFileSize+1), "too long for a swarm key file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := swarmkey.Parse([]byte(c.file))
			if err == nil {
				t.Fatalf("accepted %q as %x", c.file, k)
			}
			if !errors.Is(err, swarmkey.ErrMalformed) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q, want ErrMalformed containing %q", err, c.msg)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	k, err := swarmkey.Parse([]byte(kuboFile))
	if err != nil {
		t.Fatal(err)
	}
	// printf b01441...b351 | xxd -r -p | sha256sum | cut -c 1-16
	if fp := swarmkey.Fingerprint(k); fp != "5c1abf5726166b24" {
		t.Fatalf("fingerprint %s", fp)
	}
	other, _ := swarmkey.Generate()
	if swarmkey.Fingerprint(other) == swarmkey.Fingerprint(k) {
		t.Fatal("two keys share a fingerprint")
	}
	if strings.Contains(hex.EncodeToString(k), swarmkey.Fingerprint(k)) {
		t.Fatal("the fingerprint is a part of the key")
	}
}
