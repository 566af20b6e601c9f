package tunnel_test

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/internal/testnet"
)

// countingWriter counts what the underlying writer accepted.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// A reader that stops reading stops the writer at the other end, in both
// directions: the tunnel holds no more than its buffers and the transports'
// flow-control windows (yamux's at most 16 MiB, the kernel's socket
// buffers), far less than the transfer; once the reader resumes, every byte
// arrives.
func TestBackpressure(t *testing.T) {
	const total = 96 << 20
	for _, dir := range []string{"upload", "download"} {
		t.Run(dir, func(t *testing.T) {
			server, client := pair(t, nil, nil)
			resume := make(chan struct{})
			writing := make(chan *countingWriter, 1)
			writerDone := make(chan error, 1)
			received := make(chan int64, 1)
			// write sends total bytes to c, counting what c accepted.
			write := func(c *net.TCPConn) {
				cw := &countingWriter{w: c}
				writing <- cw
				_, err := io.Copy(cw, io.LimitReader(newPattern(1), total))
				c.CloseWrite()
				writerDone <- err
			}
			// read drains c once resumed.
			read := func(c *net.TCPConn) {
				<-resume
				n, _ := io.Copy(io.Discard, c)
				received <- n
			}
			target, local := read, write
			if dir == "download" {
				target, local = write, read
			}
			expose(t, server, "/x/slow", tcpServer(t, target), client.h.ID())
			var once sync.Once
			unblock := func() { once.Do(func() { close(resume) }) }
			t.Cleanup(unblock) // before the server's cleanup waits for its handler
			fw := forward(t, client, server.h.ID(), "/x/slow")
			go local(dial(t, fw.Listen))

			cw := <-writing
			var stalled int64
			testnet.Eventually(t, 60*time.Second, func() bool {
				n := cw.n.Load()
				time.Sleep(200 * time.Millisecond)
				stalled = cw.n.Load()
				return n > 0 && n == stalled
			}, "the writer never stalled (%s bytes written)", testnet.Lazy(func() string { return fmt.Sprint(stalled) }))
			if stalled >= total/2 {
				t.Fatalf("the writer stalled only after %d of %d bytes: the tunnel buffers without bound", stalled, total)
			}
			t.Logf("%s: the writer stalled after %d bytes", dir, stalled)
			unblock()
			if n := <-received; n != total {
				t.Fatalf("the reader received %d bytes, want %d", n, total)
			}
			if err := <-writerDone; err != nil {
				t.Fatal(err)
			}
		})
	}
}
