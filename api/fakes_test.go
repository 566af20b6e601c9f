package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/node"
)

const testToken = "test-token"

// Fakes: each embeds its interface, so a method a test does not override
// panics (nil interface) and the test fails loudly.
type (
	fakeNode struct {
		Node
		info       node.Info
		peers      []node.PeerInfo
		stats      node.Stats
		bus        *events.Bus
		connect    func(ctx context.Context, ai peer.AddrInfo) (ma.Multiaddr, error)
		disconnect func(p peer.ID) error
		ping       func(ctx context.Context, target peer.AddrInfo, count int) ([]time.Duration, error)
	}
	fakeDiscovery struct{ discoveryAPI }
	fakeRouting   struct{ routingAPI }
	fakeRecords   struct{ recordsAPI }
	fakePerf      struct{ perfAPI }
	fakePubSub    struct{ pubsubAPI }
	fakeMessaging struct{ messagingAPI }
	fakeNAT       struct{ natAPI }
	fakeTunnels   struct{ tunnelsAPI }
	fakeACL       struct{ aclAPI }
	fakeFiles     struct{ filesAPI }
)

// Aliases, so that embedding an interface whose method has the interface's
// own name (Records.Records) still promotes the method.
type (
	discoveryAPI = Discovery
	routingAPI   = Routing
	recordsAPI   = Records
	perfAPI      = Perf
	pubsubAPI    = PubSub
	messagingAPI = Messaging
	natAPI       = NAT
	tunnelsAPI   = Tunnels
	aclAPI       = ACL
	filesAPI     = Files
)

func (f *fakeNode) Info() node.Info            { return f.info }
func (f *fakeNode) Peers() []node.PeerInfo     { return f.peers }
func (f *fakeNode) Stats() node.Stats          { return f.stats }
func (f *fakeNode) Events() *events.Bus        { return f.bus }
func (f *fakeNode) Disconnect(p peer.ID) error { return f.disconnect(p) }
func (f *fakeNode) Connect(ctx context.Context, ai peer.AddrInfo) (ma.Multiaddr, error) {
	return f.connect(ctx, ai)
}
func (f *fakeNode) Ping(ctx context.Context, target peer.AddrInfo, count int) ([]time.Duration, error) {
	return f.ping(ctx, target, count)
}

// newTestAPI returns the API's handler over fakes; set adjusts the services
// (replace the fakes a test needs). Shutdown, when not nil, is the shutdown
// callback.
func newTestAPI(t *testing.T, set func(*Services), shutdown func()) http.Handler {
	t.Helper()
	svc := Services{
		Node: &fakeNode{bus: events.New()}, Discovery: fakeDiscovery{}, Routing: fakeRouting{},
		Records: fakeRecords{}, Perf: fakePerf{}, PubSub: fakePubSub{}, Messaging: fakeMessaging{}, NAT: fakeNAT{},
		Auth:    newTestAuth(t),
		Tunnels: fakeTunnels{},
		ACL:     fakeACL{},
		Files:   fakeFiles{},
	}
	if set != nil {
		set(&svc)
	}
	s, err := New(svc, Options{Token: testToken, Logger: quietLogger(), Shutdown: shutdown})
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

// call sends one request with the token and returns the status and body.
func call(t *testing.T, h http.Handler, method, path, body string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, b
}

// wantError checks an error answer: its status, its code and a part of its
// message.
func wantError(t *testing.T, status int, body []byte, wantStatus int, code, msg string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d (body %s)", status, wantStatus, body)
	}
	var e wire.Error
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if e.Code != code || !strings.Contains(e.Error, msg) {
		t.Fatalf("error %+v, want code %q and a message containing %q", e, code, msg)
	}
}

// decodeJSON decodes a success body into v.
func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}
