package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/flynn/noise"
)

// RawNoiseXX is the connection-setup baseline of the Noise stacks: TCP and
// a Noise XX handshake with the suite the libp2p Noise spec fixes
// (25519, ChaChaPoly, SHA256), with flynn/noise (what go-libp2p's Noise uses)
// and without libp2p's payload (identity keys and their signatures), then
// the same 1-byte exchange as the other baselines in one encrypted frame
// each way. Frames carry a 2-byte length, as in libp2p Noise.
const RawNoiseXX Raw = "raw-noise-xx"

var noiseSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashSHA256)

// noiseDialer serves and dials RawNoiseXX on loopback.
type noiseDialer struct {
	ln         net.Listener
	serverKey  noise.DHKey
	clientKey  noise.DHKey
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]struct{}
	closedOnce sync.Once
}

// NewRawNoiseDialer starts a RawNoiseXX server on loopback.
func NewRawNoiseDialer() (Dialer, error) {
	sk, err := noiseSuite.GenerateKeypair(rand.Reader)
	if err != nil {
		return nil, err
	}
	ck, err := noiseSuite.GenerateKeypair(rand.Reader)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen %s: %w", RawNoiseXX, err)
	}
	d := &noiseDialer{ln: ln, serverKey: sk, clientKey: ck, conns: make(map[net.Conn]struct{})}
	d.wg.Go(d.accept)
	return d, nil
}

func (d *noiseDialer) Name() string { return string(RawNoiseXX) }

func (d *noiseDialer) accept() {
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		if d.conns == nil {
			d.mu.Unlock()
			_ = c.Close()
			return
		}
		d.conns[c] = struct{}{}
		d.mu.Unlock()
		d.wg.Go(func() {
			defer func() {
				_ = c.Close()
				d.mu.Lock()
				delete(d.conns, c)
				d.mu.Unlock()
			}()
			_ = c.SetDeadline(time.Now().Add(setupDialTimeout))
			_ = d.serve(c)
		})
	}
}

// serve answers one connection: handshake, read the request, send 1 byte.
func (d *noiseDialer) serve(c net.Conn) error {
	hs, err := noise.NewHandshakeState(noise.Config{CipherSuite: noiseSuite, Pattern: noise.HandshakeXX, StaticKeypair: d.serverKey})
	if err != nil {
		return err
	}
	var buf [65535 + 2]byte
	m1, err := readFrame(c, buf[:])
	if err != nil {
		return err
	}
	if _, _, _, err := hs.ReadMessage(nil, m1); err != nil {
		return err
	}
	m2, _, _, err := hs.WriteMessage(nil, nil)
	if err != nil {
		return err
	}
	if err := writeFrame(c, m2); err != nil {
		return err
	}
	m3, err := readFrame(c, buf[:])
	if err != nil {
		return err
	}
	_, recv, send, err := hs.ReadMessage(nil, m3)
	if err != nil {
		return err
	}
	req, err := readFrame(c, buf[:])
	if err != nil {
		return err
	}
	if _, err := recv.Decrypt(nil, nil, req); err != nil {
		return err
	}
	out, err := send.Encrypt(nil, nil, []byte{1})
	if err != nil {
		return err
	}
	return writeFrame(c, out)
}

func (d *noiseDialer) Once(ctx context.Context) (setupSample, error) {
	var s setupSample
	dctx, cancel := context.WithTimeout(ctx, setupDialTimeout)
	defer cancel()
	t0 := time.Now()
	var nd net.Dialer
	c, err := nd.DialContext(dctx, "tcp", d.ln.Addr().String())
	if err != nil {
		return s, err
	}
	defer c.Close()
	if dl, ok := dctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	hs, err := noise.NewHandshakeState(noise.Config{CipherSuite: noiseSuite, Pattern: noise.HandshakeXX, Initiator: true, StaticKeypair: d.clientKey})
	if err != nil {
		return s, err
	}
	var buf [65535 + 2]byte
	m1, _, _, err := hs.WriteMessage(nil, nil)
	if err != nil {
		return s, err
	}
	if err := writeFrame(c, m1); err != nil {
		return s, err
	}
	m2, err := readFrame(c, buf[:])
	if err != nil {
		return s, err
	}
	if _, _, _, err := hs.ReadMessage(nil, m2); err != nil {
		return s, err
	}
	m3, send, recv, err := hs.WriteMessage(nil, nil)
	if err != nil {
		return s, err
	}
	if err := writeFrame(c, m3); err != nil {
		return s, err
	}
	s.connect = time.Since(t0)
	var req [8]byte
	binary.BigEndian.PutUint64(req[:], 1)
	ct, err := send.Encrypt(nil, nil, req[:])
	if err != nil {
		return s, err
	}
	if err := writeFrame(c, ct); err != nil {
		return s, err
	}
	resp, err := readFrame(c, buf[:])
	if err != nil {
		return s, err
	}
	pt, err := recv.Decrypt(nil, nil, resp)
	if err != nil {
		return s, err
	}
	if len(pt) != 1 {
		return s, fmt.Errorf("bench: %s: got %d bytes, want 1", RawNoiseXX, len(pt))
	}
	s.firstByte = time.Since(t0)
	return s, nil
}

func (d *noiseDialer) finish(*Setup) {}

func (d *noiseDialer) Close() error {
	var err error
	d.closedOnce.Do(func() {
		err = d.ln.Close()
		d.mu.Lock()
		for c := range d.conns {
			_ = c.Close()
		}
		d.conns = nil
		d.mu.Unlock()
		d.wg.Wait()
	})
	return err
}

// writeFrame writes b with its 2-byte length in one write.
func writeFrame(w io.Writer, b []byte) error {
	if len(b) > 65535 {
		return errors.New("bench: noise frame over 65535 bytes")
	}
	f := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(f, uint16(len(b)))
	copy(f[2:], b)
	_, err := w.Write(f)
	return err
}

// readFrame reads one length-prefixed frame into buf.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(buf[:2]))
	if _, err := io.ReadFull(r, buf[2:2+n]); err != nil {
		return nil, err
	}
	return buf[2 : 2+n], nil
}
