package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/tunnel"
)

// tunnelsFake keeps tunnels in memory and fails like the tunnel service:
// sentinel errors wrapped with the input.
type tunnelsFake struct {
	fakeTunnels
	tunnels []tunnel.Info
	allowed []peer.ID // the allow list of the last Expose
}

var fakeCreated = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *tunnelsFake) Expose(proto protocol.ID, target string, allow []peer.ID) (tunnel.Info, error) {
	f.allowed = allow
	if err := tunnel.CheckProtocol(string(proto)); err != nil {
		return tunnel.Info{}, fmt.Errorf("expose: %w", err)
	}
	if !strings.Contains(target, ":") {
		return tunnel.Info{}, fmt.Errorf("expose %s: %w: target %q: want HOST:PORT", proto, tunnel.ErrInvalidAddress, target)
	}
	for _, t := range f.tunnels {
		if t.Kind == tunnel.KindExpose && t.Protocol == proto {
			return tunnel.Info{}, fmt.Errorf("expose %s: %w by tunnel %s", proto, tunnel.ErrProtocolInUse, t.ID)
		}
	}
	info := tunnel.Info{ID: fmt.Sprint(len(f.tunnels) + 1), Kind: tunnel.KindExpose, Protocol: proto, Target: target,
		Allow: allow, Created: fakeCreated, MaxConns: 128}
	f.tunnels = append(f.tunnels, info)
	return info, nil
}

func (f *tunnelsFake) Forward(listen string, p peer.ID, proto protocol.ID) (tunnel.Info, error) {
	if err := tunnel.CheckProtocol(string(proto)); err != nil {
		return tunnel.Info{}, fmt.Errorf("forward: %w", err)
	}
	if listen == "127.0.0.1:2222" {
		return tunnel.Info{}, fmt.Errorf("forward %s: listen on %s: %w (by another tunnel or program)", proto, listen, tunnel.ErrAddrInUse)
	}
	info := tunnel.Info{ID: fmt.Sprint(len(f.tunnels) + 1), Kind: tunnel.KindForward, Protocol: proto,
		Listen: strings.Replace(listen, ":0", ":40001", 1), Peer: p, Created: fakeCreated, MaxConns: 128}
	f.tunnels = append(f.tunnels, info)
	return info, nil
}

func (f *tunnelsFake) List() []tunnel.Info { return f.tunnels }

func (f *tunnelsFake) CloseTunnel(id string) (tunnel.Info, error) {
	for i, t := range f.tunnels {
		if t.ID == id {
			f.tunnels = append(f.tunnels[:i], f.tunnels[i+1:]...)
			t.Conns = 2
			return t, nil
		}
	}
	return tunnel.Info{}, fmt.Errorf("close tunnel %q: %w", id, tunnel.ErrNotFound)
}

func TestTunnels(t *testing.T) {
	a, b := testPeer(t), testPeer(t)
	f := &tunnelsFake{}
	h := newTestAPI(t, func(s *Services) { s.Tunnels = f }, nil)

	code, body := call(t, h, "GET", "/v1/tunnels", "")
	if code != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("no tunnels: %d %s", code, body)
	}

	code, body = call(t, h, "POST", "/v1/tunnels/expose", `{"protocol":"/x/ssh","target":"127.0.0.1:22","allow":[" `+a.String()+`","`+b.String()+`"]}`)
	var ex wire.Tunnel
	decodeJSON(t, body, &ex)
	if code != 201 || ex.ID != "1" || ex.Kind != "expose" || ex.Protocol != "/x/ssh" || ex.Target != "127.0.0.1:22" ||
		len(ex.Allow) != 2 || ex.Allow[0] != a.String() || ex.Allow[1] != b.String() || ex.Listen != "" || ex.Peer != "" || !ex.Created.Equal(fakeCreated) {
		t.Fatalf("expose: %d %s", code, body)
	}
	if len(f.allowed) != 2 || f.allowed[0] != a {
		t.Fatalf("the service got allow list %v", f.allowed)
	}

	code, body = call(t, h, "POST", "/v1/tunnels/forward", `{"listen":"127.0.0.1:0","peer":"`+a.String()+`","protocol":"/x/db"}`)
	var fw wire.Tunnel
	decodeJSON(t, body, &fw)
	if code != 201 || fw.ID != "2" || fw.Kind != "forward" || fw.Listen != "127.0.0.1:40001" || fw.Peer != a.String() || fw.Target != "" || fw.Allow != nil {
		t.Fatalf("forward: %d %s", code, body)
	}

	// Counters and the last error reach the list.
	at := fakeCreated.Add(time.Minute)
	f.tunnels[1].Conns, f.tunnels[1].Accepted, f.tunnels[1].Failed, f.tunnels[1].Refused = 3, 7, 1, 2
	f.tunnels[1].BytesIn, f.tunnels[1].BytesOut = 1000, 2000
	f.tunnels[1].LastError, f.tunnels[1].LastErrorAt = "peer refused the connection", at
	code, body = call(t, h, "GET", "/v1/tunnels", "")
	var list []wire.Tunnel
	decodeJSON(t, body, &list)
	if code != 200 || len(list) != 2 || list[0].ID != "1" || list[0].LastErrorAt != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	got := list[1]
	if got.Conns != 3 || got.MaxConns != 128 || got.Accepted != 7 || got.Failed != 1 || got.Refused != 2 || got.BytesIn != 1000 ||
		got.BytesOut != 2000 || got.LastError != "peer refused the connection" || got.LastErrorAt == nil || !got.LastErrorAt.Equal(at) {
		t.Fatalf("listed forward tunnel: %+v", got)
	}

	code, body = call(t, h, "DELETE", "/v1/tunnels?id=2", "")
	var closed wire.Tunnel
	decodeJSON(t, body, &closed)
	if code != 200 || closed.ID != "2" || closed.Conns != 2 || len(f.tunnels) != 1 {
		t.Fatalf("close: %d %s", code, body)
	}

	cases := []struct {
		name, method, path, body string
		status                   int
		code, msg                string
	}{
		{"expose outside /x/", "POST", "/v1/tunnels/expose", `{"protocol":"/app/ssh","target":"127.0.0.1:22"}`, 400, wire.CodeInvalidArgument, `must start with "/x/"`},
		{"expose without target", "POST", "/v1/tunnels/expose", `{"protocol":"/x/ssh"}`, 400, wire.CodeInvalidArgument, "needs a protocol"},
		{"expose bad target", "POST", "/v1/tunnels/expose", `{"protocol":"/x/web","target":"nowhere"}`, 400, wire.CodeInvalidArgument, `target "nowhere"`},
		{"expose bad allowed peer", "POST", "/v1/tunnels/expose", `{"protocol":"/x/web","target":"127.0.0.1:80","allow":["bogus"]}`, 400, wire.CodeInvalidArgument, `invalid peer ID "bogus"`},
		{"expose twice", "POST", "/v1/tunnels/expose", `{"protocol":"/x/ssh","target":"127.0.0.1:23"}`, 409, wire.CodeConflict, "protocol already exposed by tunnel 1"},
		{"expose unknown field", "POST", "/v1/tunnels/expose", `{"proto":"/x/ssh"}`, 400, wire.CodeInvalidArgument, "unknown field"},
		{"forward port in use", "POST", "/v1/tunnels/forward", `{"listen":"127.0.0.1:2222","peer":"` + a.String() + `","protocol":"/x/ssh"}`, 409, wire.CodeConflict, "address already in use"},
		{"forward bad peer", "POST", "/v1/tunnels/forward", `{"listen":"127.0.0.1:0","peer":"nope","protocol":"/x/ssh"}`, 400, wire.CodeInvalidArgument, "invalid peer ID"},
		{"forward no peer", "POST", "/v1/tunnels/forward", `{"listen":"127.0.0.1:0","protocol":"/x/ssh"}`, 400, wire.CodeInvalidArgument, "empty peer ID"},
		{"forward no listen", "POST", "/v1/tunnels/forward", `{"peer":"` + a.String() + `","protocol":"/x/ssh"}`, 400, wire.CodeInvalidArgument, "needs a listen address"},
		{"forward bad protocol", "POST", "/v1/tunnels/forward", `{"listen":"127.0.0.1:0","peer":"` + a.String() + `","protocol":"ssh"}`, 400, wire.CodeInvalidArgument, "invalid tunnel protocol"},
		{"close unknown", "DELETE", "/v1/tunnels?id=9", "", 404, wire.CodeNotFound, `close tunnel "9": no such tunnel`},
		{"close without id", "DELETE", "/v1/tunnels", "", 400, wire.CodeInvalidArgument, "missing id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(t, h, c.method, c.path, c.body)
			wantError(t, code, body, c.status, c.code, c.msg)
		})
	}
}

// Every event payload the tunnel service publishes has a wire form.
func TestTunnelEventsConvert(t *testing.T) {
	p := testPeer(t)
	info := tunnel.Info{ID: "3", Kind: tunnel.KindForward, Protocol: "/x/ssh", Listen: "127.0.0.1:2222", Peer: p,
		Created: fakeCreated, Conns: 1, MaxConns: 128, BytesIn: 5}
	if got, ok := eventWire(info).(wire.Tunnel); !ok || got.ID != "3" || got.Peer != p.String() || got.Listen != "127.0.0.1:2222" || got.BytesIn != 5 {
		t.Errorf("tunnel.Info converts to %#v", eventWire(info))
	}
	cases := map[any]any{
		tunnel.ConnClosed{Tunnel: "3", Kind: tunnel.KindForward, Protocol: "/x/ssh", Peer: p, BytesIn: 1, BytesOut: 2,
			Duration: 1500 * time.Microsecond, Relayed: true, Error: "cut"}: wire.TunnelConnClosedEvent{
			Tunnel: "3", Kind: "forward", Protocol: "/x/ssh", Peer: p.String(), BytesIn: 1, BytesOut: 2, DurationMS: 1.5, Relayed: true, Error: "cut"},
		tunnel.Refused{Tunnel: "1", Kind: tunnel.KindExpose, Protocol: "/x/ssh", Peer: p, Reason: "not allowed"}: wire.TunnelRefusedEvent{
			Tunnel: "1", Kind: "expose", Protocol: "/x/ssh", Peer: p.String(), Reason: "not allowed"},
	}
	for in, want := range cases {
		if got := eventWire(in); got != want {
			t.Errorf("%T converts to %#v, want %#v", in, got, want)
		}
	}
	if _, ok := tunnelEventWire(42); ok {
		t.Error("tunnelEventWire claims an int")
	}
}

func TestTunnelStatuses(t *testing.T) {
	for err, want := range map[error]int{
		fmt.Errorf("x: %w", tunnel.ErrInvalidPeer): 400,
		fmt.Errorf("x: %w", tunnel.ErrClosed):      503,
		fmt.Errorf("x: %w", tunnel.ErrNotFound):    404,
		fmt.Errorf("x: %w", tunnel.ErrAddrInUse):   409,
	} {
		if got := statusOf(err); got != want {
			t.Errorf("statusOf(%v) = %d, want %d", err, got, want)
		}
	}
}
