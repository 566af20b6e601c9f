package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/acl"
	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/nat"
	"github.com/plexus-p2p/plexus/node"
)

// aclFake records the calls it gets and answers with change or err.
type aclFake struct {
	ACL
	snap   acl.Snapshot
	calls  []string // "allow <peer>", ...
	change acl.Change
	err    error
}

func (f *aclFake) Snapshot() acl.Snapshot { return f.snap }
func (f *aclFake) do(op string, p peer.ID) (acl.Change, error) {
	f.calls = append(f.calls, op+" "+p.String())
	if f.err != nil {
		return acl.Change{}, f.err
	}
	ch := f.change
	ch.Peer = p
	return ch, nil
}
func (f *aclFake) Allow(_ context.Context, p peer.ID) (acl.Change, error)  { return f.do("allow", p) }
func (f *aclFake) Deny(_ context.Context, p peer.ID) (acl.Change, error)   { return f.do("deny", p) }
func (f *aclFake) Remove(_ context.Context, p peer.ID) (acl.Change, error) { return f.do("remove", p) }

func TestGetACL(t *testing.T) {
	a, b, boot := testPeer(t), testPeer(t), testPeer(t)
	added := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	f := &aclFake{snap: acl.Snapshot{AllowlistActive: true, Allowed: []acl.Entry{{Peer: a, Added: added}}, Denied: []acl.Entry{{Peer: b, Added: added}},
		Implicit: []acl.Implicit{{Peer: boot, Reason: "bootstrap peer (network.bootstrap)"}}, RefusedInbound: 3, RefusedOutbound: 1}}
	h := newTestAPI(t, func(s *Services) { s.ACL = f }, nil)
	code, body := call(t, h, "GET", "/v1/peers/acl", "")
	var got wire.ACL
	decodeJSON(t, body, &got)
	want := wire.ACL{AllowlistActive: true, Allowed: []wire.ACLEntry{{PeerID: a.String(), Added: added}},
		Denied: []wire.ACLEntry{{PeerID: b.String(), Added: added}}, Implicit: []wire.ACLImplicit{{PeerID: boot.String(), Reason: "bootstrap peer (network.bootstrap)"}},
		RefusedInbound: 3, RefusedOutbound: 1}
	if code != 200 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%d %+v, want %+v", code, got, want)
	}
	// Empty lists are empty arrays, not null.
	h = newTestAPI(t, func(s *Services) { s.ACL = &aclFake{snap: acl.Snapshot{Implicit: []acl.Implicit{}}} }, nil)
	_, body = call(t, h, "GET", "/v1/peers/acl", "")
	if !strings.Contains(string(body), `"allowed": []`) || !strings.Contains(string(body), `"denied": []`) || !strings.Contains(string(body), `"implicit": []`) {
		t.Fatalf("empty lists: %s", body)
	}
}

func TestChangeACL(t *testing.T) {
	p, gone := testPeer(t), testPeer(t)
	f := &aclFake{change: acl.Change{List: acl.Deny, Previous: acl.Allow, Disconnected: []peer.ID{gone}}}
	h := newTestAPI(t, func(s *Services) { s.ACL = f }, nil)

	code, body := call(t, h, "POST", "/v1/peers/deny", `{"peer":"`+p.String()+`"}`)
	var ch wire.ACLChange
	decodeJSON(t, body, &ch)
	if code != 200 || ch.PeerID != p.String() || ch.List != "deny" || ch.Previous != "allow" ||
		len(ch.Disconnected) != 1 || ch.Disconnected[0] != gone.String() {
		t.Fatalf("deny: %d %+v", code, ch)
	}
	f.change = acl.Change{List: acl.Allow}
	code, body = call(t, h, "POST", "/v1/peers/allow", `{"peer":" `+p.String()+` "}`)
	if code != 200 || !strings.Contains(string(body), `"disconnected": []`) {
		t.Fatalf("allow: %d %s", code, body)
	}
	f.change = acl.Change{Previous: acl.Allow}
	code, body = call(t, h, "DELETE", "/v1/peers/acl?peer="+p.String(), "")
	decodeJSON(t, body, &ch)
	if code != 200 || ch.List != "" || ch.Previous != "allow" {
		t.Fatalf("delete: %d %s", code, body)
	}
	want := []string{"deny " + p.String(), "allow " + p.String(), "remove " + p.String()}
	if fmt.Sprint(f.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
}

func TestChangeACLErrors(t *testing.T) {
	p := testPeer(t)
	cases := []struct {
		name, method, path, body string
		err                      error
		status                   int
		code, msg                string
	}{
		{"no peer", "POST", "/v1/peers/deny", `{}`, nil, 400, wire.CodeInvalidArgument, "empty peer ID"},
		{"bad peer", "POST", "/v1/peers/allow", `{"peer":"Qmnope"}`, nil, 400, wire.CodeInvalidArgument, `invalid peer ID "Qmnope"`},
		{"unknown field", "POST", "/v1/peers/allow", `{"peer_id":"x"}`, nil, 400, wire.CodeInvalidArgument, "unknown field"},
		{"no body", "POST", "/v1/peers/deny", ``, nil, 400, wire.CodeInvalidArgument, "empty request body"},
		{"delete without peer", "DELETE", "/v1/peers/acl", ``, nil, 400, wire.CodeInvalidArgument, "empty peer ID"},
		{"self", "POST", "/v1/peers/deny", `{"peer":"` + p.String() + `"}`,
			fmt.Errorf("%w: %s is this node itself", acl.ErrInvalidPeer, p), 400, wire.CodeInvalidArgument, "is this node itself"},
		{"not listed", "DELETE", "/v1/peers/acl?peer=" + p.String(), ``,
			fmt.Errorf("%w: %s", acl.ErrNotListed, p), 404, wire.CodeNotFound, "on neither the allowlist nor the denylist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &aclFake{err: c.err}
			h := newTestAPI(t, func(s *Services) { s.ACL = f }, nil)
			code, body := call(t, h, c.method, c.path, c.body)
			wantError(t, code, body, c.status, c.code, c.msg)
			if c.err == nil && len(f.calls) != 0 {
				t.Fatalf("bad input reached the list: %v", f.calls)
			}
		})
	}
}

// A connect refused by the lists is 403, as is a peer outside this node's
// private network; the private network wins over the timeout in its cause.
func TestRefusedConnectStatuses(t *testing.T) {
	p := testPeer(t)
	cases := []struct {
		name string
		err  error
		msg  string
	}{
		{"denied", fmt.Errorf("%w: %s is on this node's denylist", acl.ErrDenied, p), "is on this node's denylist"},
		{"not allowed", fmt.Errorf("%w: %s is not on this node's allowlist", acl.ErrNotAllowed, p), "not on this node's allowlist"},
		{"other key", fmt.Errorf("%w: connect %s: the peer does not share this node's swarm key: %w", node.ErrPrivateNetwork, p, context.DeadlineExceeded),
			"does not share this node's swarm key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := &fakeNode{connect: func(context.Context, peer.AddrInfo) (ma.Multiaddr, error) { return nil, c.err }}
			h := newTestAPI(t, func(s *Services) { s.Node = n }, nil)
			code, body := call(t, h, "POST", "/v1/connect", `{"addr":"/ip4/127.0.0.1/tcp/1/p2p/`+p.String()+`"}`)
			wantError(t, code, body, 403, wire.CodeForbidden, c.msg)
		})
	}
}

func TestACLEvents(t *testing.T) {
	p, q := testPeer(t), testPeer(t)
	v, ok := eventWire(acl.Change{Peer: p, List: acl.Deny, Disconnected: []peer.ID{p}}).(wire.ACLChange)
	if !ok || v.PeerID != p.String() || v.List != "deny" || len(v.Disconnected) != 1 {
		t.Fatalf("acl.changed %+v", v)
	}
	r, ok := eventWire(acl.Refusal{Peer: q, Direction: network.DirInbound, Addr: "/ip4/127.0.0.1/tcp/1", Reason: "peer denied"}).(wire.ACLRefusedEvent)
	if !ok || r != (wire.ACLRefusedEvent{PeerID: q.String(), Direction: "inbound", Addr: "/ip4/127.0.0.1/tcp/1", Reason: "peer denied"}) {
		t.Fatalf("acl.refused %+v", r)
	}
	if _, ok := aclEventWire("something else"); ok {
		t.Fatal("aclEventWire converted a foreign payload")
	}
}

// /v1/id and /v1/nat say whether the node is private, with the key's
// fingerprint and the transports that turned off.
func TestPrivateNetworkWire(t *testing.T) {
	self := testPeer(t)
	pn := node.PrivateNetwork{Enabled: true, Fingerprint: "5c1abf5726166b24", DisabledTransports: []string{"quic-v1"}}
	h := newTestAPI(t, func(s *Services) { s.Node = &fakeNode{info: node.Info{ID: self, Private: pn}} }, nil)
	_, body := call(t, h, "GET", "/v1/id", "")
	var id wire.ID
	decodeJSON(t, body, &id)
	if !id.PrivateNetwork.Enabled || id.PrivateNetwork.Fingerprint != pn.Fingerprint || fmt.Sprint(id.PrivateNetwork.DisabledTransports) != "[quic-v1]" {
		t.Fatalf("id private network %+v", id.PrivateNetwork)
	}
	// A public node: enabled false, no fingerprint, an empty list.
	h = newTestAPI(t, func(s *Services) { s.Node = &fakeNode{info: node.Info{ID: self}} }, nil)
	_, body = call(t, h, "GET", "/v1/id", "")
	if !strings.Contains(string(body), `"private_network": {
    "enabled": false,
    "disabled_transports": []
  }`) {
		t.Fatalf("public node: %s", body)
	}

	st := natStatusWire(nat.Status{Private: nat.Private{Enabled: true, Fingerprint: "5c1abf5726166b24", DisabledTransports: []string{"quic-v1"},
		AllowlistActive: true, Allowed: 2, Denied: 1, RefusedInbound: 5, RefusedOutbound: 6}})
	want := wire.NATPrivate{PrivateNetwork: wire.PrivateNetwork{Enabled: true, Fingerprint: "5c1abf5726166b24", DisabledTransports: []string{"quic-v1"}},
		AllowlistActive: true, Allowed: 2, Denied: 1, RefusedInbound: 5, RefusedOutbound: 6}
	if fmt.Sprint(st.Private) != fmt.Sprint(want) {
		t.Fatalf("nat private %+v, want %+v", st.Private, want)
	}
}
