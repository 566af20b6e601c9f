package bench

import (
	"bufio"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// The raw ChaCha20-Poly1305 baseline frames a TCP stream the way the libp2p
// Noise spec frames transport messages: a 2-byte big-endian length, then a
// ChaCha20-Poly1305 ciphertext of at most 65535 bytes (65519 of plaintext
// and the 16-byte tag), one key per direction, the nonce a 64-bit message
// counter (little-endian, after 4 zero bytes). It mirrors go-libp2p's Noise
// transport I/O (one TCP write per message, a 4 KiB bufio reader, decryption
// in place into the caller's buffer when it is big enough) without the
// handshake, so it is the floor for TCP+Noise+Yamux: what the cipher and
// framing cost, without libp2p.
const (
	chachaMaxMessage   = 0xffff
	chachaMaxPlaintext = chachaMaxMessage - chacha20poly1305.Overhead
	chachaPrefix       = 2
)

// chachaKeys are the two directions' keys of one baseline server; every
// connection to it uses them (the baseline measures the stream, not a key
// exchange).
type chachaKeys struct {
	clientToServer, serverToClient [chacha20poly1305.KeySize]byte
}

func newChaChaKeys() (*chachaKeys, error) {
	var k chachaKeys
	if _, err := rand.Read(k.clientToServer[:]); err != nil {
		return nil, fmt.Errorf("bench: chacha key: %w", err)
	}
	if _, err := rand.Read(k.serverToClient[:]); err != nil {
		return nil, fmt.Errorf("bench: chacha key: %w", err)
	}
	return &k, nil
}

// chachaConn is one side of a raw ChaCha20-Poly1305 framed stream over TCP.
type chachaConn struct {
	tcp    *net.TCPConn
	r      *bufio.Reader
	seal   cipher.AEAD
	open   cipher.AEAD
	wNonce uint64
	rNonce uint64
	wbuf   []byte
	rlen   [chachaPrefix]byte
	// qbuf holds decrypted bytes a short Read could not take; qpos is how
	// many of them were returned.
	qbuf []byte
	qpos int
	rbuf []byte
}

// newChaChaConn wraps c; server selects which key seals.
func newChaChaConn(c *net.TCPConn, k *chachaKeys, server bool) (*chachaConn, error) {
	wk, rk := k.clientToServer, k.serverToClient
	if server {
		wk, rk = rk, wk
	}
	seal, err := chacha20poly1305.New(wk[:])
	if err != nil {
		return nil, err
	}
	open, err := chacha20poly1305.New(rk[:])
	if err != nil {
		return nil, err
	}
	return &chachaConn{
		tcp: c, r: bufio.NewReader(c), seal: seal, open: open,
		wbuf: make([]byte, chachaPrefix+chachaMaxMessage),
		rbuf: make([]byte, chachaMaxMessage),
	}, nil
}

func nonce(n uint64) []byte {
	var b [chacha20poly1305.NonceSize]byte
	binary.LittleEndian.PutUint64(b[4:], n)
	return b[:]
}

// Write encrypts p in messages of at most 65519 plaintext bytes and writes
// each message with one TCP write.
func (c *chachaConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		end := min(written+chachaMaxPlaintext, len(p))
		msg := c.seal.Seal(c.wbuf[:chachaPrefix], nonce(c.wNonce), p[written:end], nil)
		c.wNonce++
		binary.BigEndian.PutUint16(msg, uint16(len(msg)-chachaPrefix))
		if _, err := c.tcp.Write(msg); err != nil {
			return written, err
		}
		written = end
	}
	return written, nil
}

var errChaChaShort = errors.New("bench: chacha message shorter than its tag")

// Read returns the plaintext of the next message, decrypting in place into
// p when p can hold the whole ciphertext.
func (c *chachaConn) Read(p []byte) (int, error) {
	if c.qpos < len(c.qbuf) {
		n := copy(p, c.qbuf[c.qpos:])
		c.qpos += n
		return n, nil
	}
	if _, err := io.ReadFull(c.r, c.rlen[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(c.rlen[:]))
	if n < chacha20poly1305.Overhead {
		return 0, errChaChaShort
	}
	dst := c.rbuf[:n]
	if len(p) >= n {
		dst = p[:n]
	}
	if _, err := io.ReadFull(c.r, dst); err != nil {
		return 0, noEOF(err)
	}
	plain, err := c.open.Open(dst[:0], nonce(c.rNonce), dst, nil)
	if err != nil {
		return 0, fmt.Errorf("bench: chacha open: %w", err)
	}
	c.rNonce++
	if len(p) >= n {
		return len(plain), nil
	}
	c.qbuf, c.qpos = plain, copy(p, plain)
	return c.qpos, nil
}

// noEOF turns an EOF inside a message into ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (c *chachaConn) CloseWrite() error                  { return c.tcp.CloseWrite() }
func (c *chachaConn) Close() error                       { return c.tcp.Close() }
func (c *chachaConn) SetReadDeadline(t time.Time) error  { return c.tcp.SetReadDeadline(t) }
func (c *chachaConn) SetWriteDeadline(t time.Time) error { return c.tcp.SetWriteDeadline(t) }
