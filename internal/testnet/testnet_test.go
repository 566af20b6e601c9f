package testnet_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/internal/testnet"
)

func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }

// fatalTB records the message of Fatalf and stops the caller, like
// testing.T's Fatalf, by panicking with it.
type fatalTB struct {
	testing.TB
	msg string
}

type fatal struct{}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatal{})
}

// failure runs fn against a fatalTB and returns its Fatalf message ("" if
// fn returned without failing).
func failure(fn func(tb testing.TB)) (msg string) {
	tb := &fatalTB{}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				panic(r)
			}
			msg = tb.msg
		}
	}()
	fn(tb)
	return ""
}

func TestEventually(t *testing.T) {
	calls := 0
	testnet.Eventually(t, 5*time.Second, func() bool { calls++; return calls == 3 }, "never true")
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}

	state := "start"
	msg := failure(func(tb testing.TB) {
		testnet.Eventually(tb, 50*time.Millisecond, func() bool { state = "polled"; return false },
			"state %s, want %s", testnet.Lazy(func() string { return state }), "done")
	})
	if msg != "after 50ms: state polled, want done" {
		t.Fatalf("failure message %q", msg)
	}
}

func TestMocknet(t *testing.T) {
	hosts := testnet.Mocknet(t, 3)
	for i, h := range hosts {
		for j, o := range hosts {
			if i != j && h.Network().Connectedness(o.ID()) != network.Connected {
				t.Errorf("host %d is not connected to host %d", i, j)
			}
		}
	}
}

func TestNet(t *testing.T) {
	net := testnet.NewNet(t)
	a, b := net.AddHost(nil), net.AddHost(testnet.NewKey(t))
	if a.Addrs()[0].Equal(b.Addrs()[0]) || !strings.HasPrefix(a.Addrs()[0].String(), "/ip6/100::") {
		t.Fatalf("addresses %s and %s: want two in 100::/64", a.Addrs(), b.Addrs())
	}
	if a.Network().Connectedness(b.ID()) == network.Connected {
		t.Fatal("hosts connected before Connect")
	}
	net.Connect(a, b)
	net.Connect(a, b) // linked already: connects again over the same link
	if a.Network().Connectedness(b.ID()) != network.Connected {
		t.Fatal("hosts not connected after Connect")
	}
	if n := len(net.LinksBetweenPeers(a.ID(), b.ID())); n != 1 {
		t.Fatalf("%d links between the hosts, want 1", n)
	}
}

func TestHost(t *testing.T) {
	tcp := testnet.Host(t)
	if len(tcp.Addrs()) != 1 || !strings.HasPrefix(tcp.Addrs()[0].String(), "/ip4/127.0.0.1/tcp/") {
		t.Fatalf("default host listens on %s, want TCP on 127.0.0.1 only", tcp.Addrs())
	}
	q := testnet.Host(t, libp2p.Transport(quic.NewTransport), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"))
	if len(q.Addrs()) != 1 {
		t.Fatalf("QUIC host listens on %s, want one address", q.Addrs())
	}
	if _, err := q.Addrs()[0].ValueForProtocol(ma.P_QUIC_V1); err != nil {
		t.Fatalf("QUIC host listens on %s", q.Addrs())
	}
	other := testnet.Host(t)
	testnet.Connect(t, other, tcp)
	if other.Network().Connectedness(tcp.ID()) != network.Connected {
		t.Fatal("not connected after Connect")
	}
}
