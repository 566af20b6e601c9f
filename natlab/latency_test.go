package natlab

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestLabLatency: with 25 ms per hop, a UDP round trip between a private
// host and a public one (through the private host's router) and between two
// public hosts crosses four hops, so it takes at least 100 ms; every echo
// comes back (the delay drops nothing).
func TestLabLatency(t *testing.T) {
	const hop = 25 * time.Millisecond
	if why := Available(); why != "" {
		t.Skip("skipping NAT lab test: " + why)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	l, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.SetLatency(ctx, hop); err != nil {
		t.Fatal(err)
	}
	srv, err := l.AddPublic(ctx, "srv")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := l.AddPublic(ctx, "pub")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := l.AddPrivate(ctx, "priv", Cone)
	if err != nil {
		t.Fatal(err)
	}
	var echo *net.UDPConn
	if err := InNetns(srv.NS, func() error {
		echo, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 7})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := echo.ReadFromUDP(buf)
			if err != nil {
				return
			}
			echo.WriteToUDP(buf[:n], from)
		}
	}()
	for _, h := range []*Host{pub, priv} {
		var c *net.UDPConn
		if err := InNetns(h.NS, func() error {
			c, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(srv.IP), Port: 7})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		for i := range 5 {
			start := time.Now()
			if _, err := c.Write([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("%s: echo %d: %v", h.Name, i, err)
			}
			if rtt := time.Since(start); rtt < 4*hop {
				t.Fatalf("%s: round trip %s, want at least %s (4 hops of %s)", h.Name, rtt, 4*hop, hop)
			} else {
				t.Logf("%s: round trip %s", h.Name, rtt)
			}
		}
		c.Close()
	}
}
