package tunnel_test

import (
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/perf"
)

// benchBytes is what one throughput round uploads, through the tunnel and
// with perf.
const benchBytes = 64 << 20

// sink reads a connection to EOF and answers the byte count (8 bytes, big
// endian), so the sender knows everything arrived.
func sink(c *net.TCPConn) {
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		return
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	c.Write(b[:])
}

// BenchmarkTunnelThroughput uploads benchBytes through a tunnel (local TCP
// client -> forwarding host -> libp2p stream -> exposing host -> local TCP
// sink, until the sink confirms) and, in the same round between the same
// two loopback TCP hosts, with the libp2p perf protocol (perf.Run, which
// also counts opening its stream), alternating which goes first. It reports
// both rates and their ratio tunnel/perf: the cost of the two extra TCP
// hops and the copies through the tunnel.
func BenchmarkTunnelThroughput(b *testing.B) {
	server, client := pair(b, nil, nil)
	ps, err := perf.New(server.h, perf.WithLogger(testnet.Quiet))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ps.Close() })
	expose(b, server, "/x/sink", tcpServer(b, sink), client.h.ID())
	fw := forward(b, client, server.h.ID(), "/x/sink")
	ctx := b.Context()
	payload := make([]byte, 256<<10)

	viaTunnel := func() time.Duration {
		start := time.Now()
		c, err := net.Dial("tcp", fw.Listen)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		for sent := 0; sent < benchBytes; sent += len(payload) {
			if _, err := c.Write(payload); err != nil {
				b.Fatalf("write through the tunnel: %v", err)
			}
		}
		c.(*net.TCPConn).CloseWrite()
		var ack [8]byte
		if _, err := io.ReadFull(c, ack[:]); err != nil || binary.BigEndian.Uint64(ack[:]) != benchBytes {
			b.Fatalf("the sink confirmed %d bytes (%v), want %d", binary.BigEndian.Uint64(ack[:]), err, benchBytes)
		}
		return time.Since(start)
	}
	viaPerf := func() time.Duration {
		res, err := perf.Run(ctx, client.h, server.h.ID(), benchBytes, 0)
		if err != nil {
			b.Fatal(err)
		}
		return res.Total
	}

	var tunnelTime, perfTime time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			tunnelTime += viaTunnel()
			perfTime += viaPerf()
		} else {
			perfTime += viaPerf()
			tunnelTime += viaTunnel()
		}
		i++
	}
	mbps := func(d time.Duration) float64 { return float64(i) * benchBytes / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(tunnelTime), "tunnel_MB/s")
	b.ReportMetric(mbps(perfTime), "perf_MB/s")
	b.ReportMetric(perfTime.Seconds()/tunnelTime.Seconds(), "tunnel/perf")
}

// BenchmarkTunnelLatency sends the same small HTTP request to a local web
// server directly and through a tunnel between two loopback TCP hosts,
// alternating, and reports the medians and the latency the tunnel adds:
// with a new TCP connection per request (the tunnel opens a new stream)
// and on a kept-alive connection (one stream, a round trip over it).
func BenchmarkTunnelLatency(b *testing.B) {
	for _, keepAlive := range []bool{false, true} {
		name := "new-conn"
		if keepAlive {
			name = "keep-alive"
		}
		b.Run(name, func(b *testing.B) {
			server, client := pair(b, nil, nil)
			web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("pong"))
			}))
			b.Cleanup(web.Close)
			expose(b, server, "/x/web", strings.TrimPrefix(web.URL, "http://"), client.h.ID())
			fw := forward(b, client, server.h.ID(), "/x/web")
			tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}
			b.Cleanup(tr.CloseIdleConnections)
			hc := &http.Client{Transport: tr}
			get := func(url string) time.Duration {
				start := time.Now()
				resp, err := hc.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(body) != "pong" {
					b.Fatalf("GET %s: %q %v", url, body, err)
				}
				return time.Since(start)
			}
			direct, tunnelled := web.URL+"/ping", "http://"+fw.Listen+"/ping"
			get(direct) // warm up both paths (and the kept-alive connections)
			get(tunnelled)
			var d, tn []time.Duration
			for b.Loop() {
				d = append(d, get(direct))
				tn = append(tn, get(tunnelled))
			}
			md, mt := median(d), median(tn)
			b.ReportMetric(float64(md.Microseconds()), "direct_µs")
			b.ReportMetric(float64(mt.Microseconds()), "tunnel_µs")
			b.ReportMetric(float64((mt - md).Microseconds()), "added_µs")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
