package tunnel_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/tunnel"
)

// Bad input is refused with an error that names it and matches its class.
func TestInputIsChecked(t *testing.T) {
	s := newSide(t, testnet.Host(t))
	other := testnet.Host(t).ID()
	if _, err := s.svc.Expose("/x/taken", "127.0.0.1:1", nil); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	s.h.SetStreamHandler("/x/node", func(str network.Stream) { str.Reset() })

	expose := func(proto, target string, allow ...peer.ID) func() error {
		return func() error { _, err := s.svc.Expose(protocol.ID(proto), target, allow); return err }
	}
	forward := func(listen string, p peer.ID, proto string) func() error {
		return func() error { _, err := s.svc.Forward(listen, p, protocol.ID(proto)); return err }
	}
	cases := []struct {
		name string
		call func() error
		want error
		msg  string
	}{
		{"protocol outside /x/", expose("/app/ssh", "127.0.0.1:22"), tunnel.ErrInvalidProtocol, `"/app/ssh": must start with "/x/"`},
		{"bare /x/", expose("/x/", "127.0.0.1:22"), tunnel.ErrInvalidProtocol, "name the service"},
		{"protocol with a space", expose("/x/my ssh", "127.0.0.1:22"), tunnel.ErrInvalidProtocol, "invalid character"},
		{"protocol with an empty segment", forward("127.0.0.1:0", other, "/x//ssh"), tunnel.ErrInvalidProtocol, "empty path segment"},
		{"target without a port", expose("/x/a", "127.0.0.1"), tunnel.ErrInvalidAddress, `target "127.0.0.1": want HOST:PORT`},
		{"target port 0", expose("/x/a", "127.0.0.1:0"), tunnel.ErrInvalidAddress, "port must be a number from 1 to 65535"},
		{"target without a host", expose("/x/a", ":22"), tunnel.ErrInvalidAddress, "has no host"},
		{"target multiaddr over udp", expose("/x/a", "/ip4/127.0.0.1/udp/53"), tunnel.ErrInvalidAddress, "/ip4/HOST/tcp/PORT"},
		{"invalid allowed peer", expose("/x/a", "127.0.0.1:22", peer.ID("nope")), tunnel.ErrInvalidPeer, "allowed peer"},
		{"protocol exposed already", expose("/x/taken", "127.0.0.1:2"), tunnel.ErrProtocolInUse, "by tunnel 1"},
		{"protocol another handler serves", expose("/x/node", "127.0.0.1:2"), tunnel.ErrProtocolInUse, "the node serves it already"},
		{"listen port out of range", forward("127.0.0.1:70000", other, "/x/a"), tunnel.ErrInvalidAddress, "port must be a number from 0 to 65535"},
		{"listen without a host", forward(":2222", other, "/x/a"), tunnel.ErrInvalidAddress, "127.0.0.1:2222"},
		{"listen on an address not of this machine", forward("192.0.2.1:0", other, "/x/a"), tunnel.ErrInvalidAddress, "listen on 192.0.2.1:0"},
		{"listen port in use", forward(busy.Addr().String(), other, "/x/a"), tunnel.ErrAddrInUse, "address already in use"},
		{"no peer", forward("127.0.0.1:0", "", "/x/a"), tunnel.ErrInvalidPeer, "no peer given"},
		{"this node", forward("127.0.0.1:0", s.h.ID(), "/x/a"), tunnel.ErrInvalidPeer, "this node itself"},
		{"unknown tunnel", func() error { _, err := s.svc.CloseTunnel("42"); return err }, tunnel.ErrNotFound, `"42"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want %v containing %q", err, c.want, c.msg)
			}
		})
	}
	if got := s.svc.List(); len(got) != 1 {
		t.Fatalf("failed calls left tunnels behind: %+v", got)
	}

	// Multiaddrs work as addresses.
	info, err := s.svc.Forward("/ip4/127.0.0.1/tcp/0", other, "/x/a")
	if err != nil || !strings.HasPrefix(info.Listen, "127.0.0.1:") {
		t.Fatalf("forward from a multiaddr: %+v %v", info, err)
	}
	info, err = s.svc.Expose("/x/b", "/dns4/localhost/tcp/22", []peer.ID{other, other})
	if err != nil || info.Target != "localhost:22" || len(info.Allow) != 1 {
		t.Fatalf("expose a multiaddr with a repeated peer: %+v %v", info, err)
	}

	// After Close nothing opens.
	s.svc.Close()
	if _, err := s.svc.Expose("/x/c", "127.0.0.1:1", nil); !errors.Is(err, tunnel.ErrClosed) {
		t.Fatalf("expose after close: %v", err)
	}
	if _, err := s.svc.Forward("127.0.0.1:0", other, "/x/c"); !errors.Is(err, tunnel.ErrClosed) {
		t.Fatalf("forward after close: %v", err)
	}
	if got := s.svc.List(); len(got) != 0 {
		t.Fatalf("tunnels after close: %+v", got)
	}
}

func TestNewChecksOptions(t *testing.T) {
	h := testnet.Host(t)
	for name, opt := range map[string]tunnel.Option{
		"max connections 0": tunnel.WithMaxConns(0),
		"dial timeout 0":    tunnel.WithDialTimeout(0),
		"open timeout -1":   tunnel.WithOpenTimeout(-1),
		"buffer size 100":   tunnel.WithBufferSize(100),
		"nil default allow": tunnel.WithDefaultAllow(nil),
		"nil connect":       tunnel.WithConnect(nil),
		"nil logger":        tunnel.WithLogger(nil),
	} {
		if _, err := tunnel.New(h, opt); err == nil || !strings.HasPrefix(err.Error(), "tunnel: ") {
			t.Errorf("%s: %v, want an error", name, err)
		}
	}
	if _, err := tunnel.New(nil); err == nil {
		t.Error("a nil host is accepted")
	}
}
