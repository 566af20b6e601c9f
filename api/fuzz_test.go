package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/auth"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/node"
)

// FuzzRequestBody sends arbitrary JSON bodies to every route that takes
// one (POST, PUT, DELETE), with the token. The API either refuses the body
// with a 4xx and a JSON error {"error", "code"}, or hands the decoded,
// validated request to the service: the services here are fakes whose
// methods panic, and reaching one is recovered and counts as accepted.
// A 5xx, a 4xx without the JSON error, or a panic outside the fakes fails.
func FuzzRequestBody(f *testing.F) {
	a, err := auth.New(dssync.MutexWrap(datastore.NewMapDatastore()), auth.WithParams(fastHash), auth.WithLogger(quietLogger()))
	if err != nil {
		f.Fatal(err)
	}
	svc := Services{
		Node: &fakeNode{bus: events.New()}, Discovery: fakeDiscovery{}, Routing: fakeRouting{},
		Records: fakeRecords{}, Perf: fakePerf{}, PubSub: fakePubSub{}, Messaging: fakeMessaging{}, NAT: fakeNAT{},
		Auth: a, Tunnels: fakeTunnels{}, ACL: fakeACL{}, Files: fakeFiles{},
	}
	s, err := New(svc, Options{Token: testToken, Logger: quietLogger(), MaxBodyBytes: 64 << 10,
		Shutdown: func() {}})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	var targets []string // "METHOD /path"
	for _, r := range s.routes() {
		if m, _, _ := strings.Cut(r.pattern, " "); m != "GET" {
			targets = append(targets, r.pattern)
		}
	}
	sort.Strings(targets)
	for i, body := range []string{
		`{}`, `{"peer":"12D3KooWA"}`, `{"topic":"t","data":"aGk="}`, `{"name":"n","value":"dg==","ttl_ms":1e300}`,
		`{"addr":"/ip4/127.0.0.1/tcp/1"}`, `{"protocol":"/app/x","url":"http://127.0.0.1:1"}`,
		`{"username":"a","password":"b"}`, `[]`, `null`, `{"count":-1}`, `{"a":1}{}`, "\x00", ``,
		`{"peer":"x","protocol":"/app/x","data":"!!"}`, `{"download_bytes":18446744073709551615}`,
	} {
		f.Add(uint8(i), body)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		target := targets[int(which)%len(targets)]
		method, path, _ := strings.Cut(target, " ")
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		if reached := serveRecovering(h, rec, req); reached {
			return
		}
		code := rec.Code
		b, _ := io.ReadAll(rec.Body)
		switch {
		case code >= 500:
			t.Fatalf("%s with %q: %d %s", target, body, code, b)
		case code >= 400:
			var e wire.Error
			if err := json.Unmarshal(b, &e); err != nil || e.Error == "" || e.Code == "" {
				t.Fatalf("%s with %q: %d with body %q, want a JSON error with a code", target, body, code, b)
			}
		}
	})
}

// serveRecovering serves one request and reports whether it reached a
// fake service (whose nil embedded interface panics). Any other panic is
// re-raised.
func serveRecovering(h http.Handler, w http.ResponseWriter, r *http.Request) (reached bool) {
	defer func() {
		if v := recover(); v != nil {
			if st := string(debug.Stack()); strings.Contains(st, "api.fake") || strings.Contains(st, "api.(*fake") {
				reached = true
				return
			}
			panic(v)
		}
	}()
	h.ServeHTTP(w, r)
	return false
}

// FuzzCredentials sends GET /v1/id with an arbitrary Authorization header
// and session cookie: only the API token ("Bearer <token>") gets in;
// everything else is a 401 with a JSON error, never a 5xx or a panic.
func FuzzCredentials(f *testing.F) {
	a, err := auth.New(dssync.MutexWrap(datastore.NewMapDatastore()), auth.WithParams(fastHash), auth.WithLogger(quietLogger()))
	if err != nil {
		f.Fatal(err)
	}
	svc := Services{
		Node: &fakeNode{bus: events.New(), info: node.Info{}}, Discovery: fakeDiscovery{}, Routing: fakeRouting{},
		Records: fakeRecords{}, Perf: fakePerf{}, PubSub: fakePubSub{}, Messaging: fakeMessaging{}, NAT: fakeNAT{},
		Auth: a, Tunnels: fakeTunnels{}, ACL: fakeACL{}, Files: fakeFiles{},
	}
	s, err := New(svc, Options{Token: testToken, Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Add("Bearer "+testToken, "")
	f.Add("Bearer "+testToken+" ", "")
	f.Add("bearer "+testToken, "")
	f.Add("Basic dXNlcjpwdw==", "")
	f.Add("Bearer plx_0123456789abcdef_0123456789abcdef0123456789abcdef", "")
	f.Add("", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("", "\x00;=,")
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		req := httptest.NewRequest("GET", "/v1/id", nil)
		if authz != "" {
			req.Header["Authorization"] = []string{authz}
		}
		if cookie != "" {
			req.Header["Cookie"] = []string{SessionCookie + "=" + cookie}
		}
		rec := httptest.NewRecorder()
		if serveRecovering(h, rec, req) {
			return // authenticated: reached the fake node
		}
		b, _ := io.ReadAll(rec.Body)
		if rec.Code == http.StatusOK {
			// The scheme is matched case-insensitively (RFC 9110) and
			// spaces around the header and the token are ignored.
			scheme, cred, _ := strings.Cut(strings.TrimSpace(authz), " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) != testToken {
				t.Fatalf("Authorization %q, cookie %q: 200 %s", authz, cookie, b)
			}
			return
		}
		if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusBadRequest {
			t.Fatalf("Authorization %q, cookie %q: %d %s", authz, cookie, rec.Code, b)
		}
		var e wire.Error
		if err := json.Unmarshal(b, &e); err != nil || e.Code == "" {
			t.Fatalf("Authorization %q: %d with body %q, want a JSON error", authz, rec.Code, b)
		}
	})
}
