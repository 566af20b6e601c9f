package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/records"
)

// fakeRecordsSvc answers like records.Service without a DHT: names and keys
// are checked with the records package's own functions.
type fakeRecordsSvc struct {
	fakeRecords
	owner    peer.ID
	gotTTL   time.Duration
	provided []string
	found    []peer.AddrInfo
	gotCount int
	err      error // returned by Get and FindProviders when set
}

func (f *fakeRecordsSvc) Put(ctx context.Context, name string, value []byte, ttl time.Duration) (records.Record, error) {
	f.gotTTL = ttl
	if err := records.ValidateName(name); err != nil {
		return records.Record{}, fmt.Errorf("records: put: %w", err)
	}
	if len(value) > records.DefaultMaxValueSize {
		return records.Record{}, fmt.Errorf("records: put: %w: %d bytes, at most %d", records.ErrValueTooLarge, len(value), records.DefaultMaxValueSize)
	}
	if ttl > records.MaxTTL {
		return records.Record{}, fmt.Errorf("records: put: %w: %s", records.ErrInvalidTTL, ttl)
	}
	if ttl == 0 {
		ttl = records.DefaultTTL
	}
	return records.Record{Key: records.Key(f.owner, name), Owner: f.owner, Name: name, Value: value, Seq: 1,
		EOL: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, nil
}

func (f *fakeRecordsSvc) Get(ctx context.Context, key string) (records.Record, error) {
	if strings.HasPrefix(key, "/pk/") {
		// Another namespace the DHT validates: the raw value.
		_, owner, printable, err := records.OtherKey(key)
		if err != nil {
			return records.Record{}, fmt.Errorf("records: get: %w", err)
		}
		return records.Record{Key: printable, Owner: owner, Value: []byte{8, 1, 18, 32}}, nil
	}
	owner, name, err := records.ParseKey(key)
	if err != nil {
		return records.Record{}, fmt.Errorf("records: get: %w", err)
	}
	if f.err != nil {
		return records.Record{}, f.err
	}
	return records.Record{Key: key, Owner: owner, Name: name, Value: []byte("v"), Seq: 7}, nil
}

func (f *fakeRecordsSvc) OwnRecords(ctx context.Context) ([]records.Record, error) {
	return []records.Record{{Key: records.Key(f.owner, "a"), Owner: f.owner, Name: "a"}}, nil
}

func (f *fakeRecordsSvc) Provide(ctx context.Context, key string) error {
	if _, err := records.ProviderCID(key); err != nil {
		return fmt.Errorf("records: provide: %w", err)
	}
	f.provided = append(f.provided, key)
	return nil
}

func (f *fakeRecordsSvc) Provided(ctx context.Context) ([]records.Provision, error) {
	c, _ := records.ProviderCID("k")
	return []records.Provision{{Key: "k", CID: c, Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}, nil
}

func (f *fakeRecordsSvc) FindProviders(ctx context.Context, key string, n int) ([]peer.AddrInfo, error) {
	f.gotCount = n
	if _, err := records.ProviderCID(key); err != nil {
		return nil, fmt.Errorf("records: find providers: %w", err)
	}
	return f.found, f.err
}

func newRecordsAPI(t *testing.T) (*fakeRecordsSvc, func(method, path, body string) (int, []byte)) {
	t.Helper()
	f := &fakeRecordsSvc{owner: testPeer(t)}
	h := newTestAPI(t, func(s *Services) { s.Records = f }, nil)
	return f, func(method, path, body string) (int, []byte) { return call(t, h, method, path, body) }
}

func TestDHTPut(t *testing.T) {
	f, do := newRecordsAPI(t)
	code, body := do("POST", "/v1/dht/put", `{"name":"greeting","value":"aGVsbG8=","ttl_ms":3600000}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var rec wire.Record
	decodeJSON(t, body, &rec)
	if rec.Key != "/plexus/"+f.owner.String()+"/greeting" || rec.Owner != f.owner.String() || string(rec.Value) != "hello" ||
		rec.Seq != 1 || f.gotTTL != time.Hour {
		t.Fatalf("record %+v, ttl %s", rec, f.gotTTL)
	}
	if code, body = do("POST", "/v1/dht/put", `{"name":"x","value":"","ttl_ms":60000}`); code != 200 || f.gotTTL != time.Minute {
		t.Fatalf("shortest ttl: %d %s, ttl %s", code, body, f.gotTTL)
	}
	if code, body = do("POST", "/v1/dht/put", `{"name":"x","value":""}`); code != 200 || f.gotTTL != 0 {
		t.Fatalf("no ttl: %d %s, ttl %s", code, body, f.gotTTL)
	}
	// The value is base64 on the wire and kept as JSON shows it.
	var raw map[string]any
	json.Unmarshal(body, &raw)
	if _, ok := raw["value"].(string); !ok {
		t.Fatalf("value is not a base64 string: %s", body)
	}

	for _, c := range []struct {
		name, body string
		status     int
		code, msg  string
	}{
		{"invalid name", `{"name":"a/b","value":"eA=="}`, 400, wire.CodeInvalidArgument, "invalid record name"},
		{"empty name", `{"name":"","value":"eA=="}`, 400, wire.CodeInvalidArgument, "empty"},
		{"negative ttl", `{"name":"x","value":"eA==","ttl_ms":-1}`, 400, wire.CodeInvalidArgument, "invalid ttl_ms"},
		{"huge ttl", `{"name":"x","value":"eA==","ttl_ms":1e300}`, 400, wire.CodeInvalidArgument, "invalid ttl_ms"},
		{"ttl over a year", `{"name":"x","value":"eA==","ttl_ms":31536000001}`, 400, wire.CodeInvalidArgument, "invalid ttl_ms"},
		// An explicit 0 is not the default (which is asked for by leaving
		// ttl_ms out), and a TTL under a minute is refused before the
		// service stores anything.
		{"zero ttl", `{"name":"x","value":"eA==","ttl_ms":0}`, 400, wire.CodeInvalidArgument, "invalid ttl_ms 0"},
		{"1ns ttl", `{"name":"x","value":"eA==","ttl_ms":0.000001}`, 400, wire.CodeInvalidArgument, "invalid ttl_ms"},
		{"ttl under a minute", `{"name":"x","value":"eA==","ttl_ms":59999}`, 400, wire.CodeInvalidArgument, "outside [1m0s, 8760h0m0s]"},
		{"ttl as a string", `{"name":"x","value":"eA==","ttl_ms":"1h"}`, 400, wire.CodeInvalidArgument, "invalid JSON body"},
		{"old ttl field", `{"name":"x","value":"eA==","ttl":"1h"}`, 400, wire.CodeInvalidArgument, "unknown field"},
		{"value not base64", `{"name":"x","value":"%%%"}`, 400, wire.CodeInvalidArgument, "invalid JSON body"},
		{"oversized value", `{"name":"x","value":"` + b64(records.DefaultMaxValueSize+1) + `"}`, 413, wire.CodeTooLarge, "too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := do("POST", "/v1/dht/put", c.body)
			wantError(t, code, body, c.status, c.code, c.msg)
		})
	}
}

// b64 is the base64 of n zero bytes.
func b64(n int) string {
	b, _ := json.Marshal(make([]byte, n))
	return strings.Trim(string(b), `"`)
}

func TestDHTGet(t *testing.T) {
	f, do := newRecordsAPI(t)
	key := records.Key(f.owner, "greeting")
	code, body := do("GET", "/v1/dht/get?key="+url.QueryEscape(key), "")
	var rec wire.Record
	decodeJSON(t, body, &rec)
	if code != 200 || rec.Key != key || rec.Name != "greeting" || rec.Seq != 7 || rec.Owner != f.owner.String() {
		t.Fatalf("%d %+v", code, rec)
	}
	var raw map[string]any
	decodeJSON(t, body, &raw)
	if raw["namespace"] != "plexus" {
		t.Fatalf("namespace of a Plexus record: %s", body)
	}

	// A record of another namespace: its namespace, key, owner and raw
	// value; the Plexus fields are absent rather than zero.
	pk := "/pk/" + f.owner.String()
	code, body = do("GET", "/v1/dht/get?key="+url.QueryEscape(pk), "")
	raw = nil
	decodeJSON(t, body, &raw)
	if code != 200 || raw["namespace"] != "pk" || raw["key"] != pk || raw["owner"] != f.owner.String() || raw["value"] != "CAESIA==" {
		t.Fatalf("/pk/ record: %d %s", code, body)
	}
	for _, field := range []string{"name", "seq", "eol"} {
		if _, ok := raw[field]; ok {
			t.Errorf("/pk/ record has %q: %s", field, body)
		}
	}
	code, body = do("GET", "/v1/dht/get?key=/plexus/not-a-peer/x", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid record key")
	code, body = do("GET", "/v1/dht/get?key=/nope/"+f.owner.String()+"/x", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "namespace")
	code, body = do("GET", "/v1/dht/get", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid record key")

	f.err = fmt.Errorf("records: get %q: %w", key, records.ErrNotFound)
	code, body = do("GET", "/v1/dht/get?key="+url.QueryEscape(key), "")
	wantError(t, code, body, 404, wire.CodeNotFound, "record not found")
	f.err = fmt.Errorf("records: get %q: %w", key, context.DeadlineExceeded)
	code, body = do("GET", "/v1/dht/get?key="+url.QueryEscape(key), "")
	wantError(t, code, body, 408, wire.CodeTimeout, "deadline exceeded")
	f.err = fmt.Errorf("records: get %q: %w", key, records.ErrNotOwner)
	code, body = do("GET", "/v1/dht/get?key="+url.QueryEscape(key), "")
	wantError(t, code, body, 403, wire.CodeForbidden, "not signed")
}

func TestDHTRecordsAndProvided(t *testing.T) {
	f, do := newRecordsAPI(t)
	code, body := do("GET", "/v1/dht/records", "")
	var recs []wire.Record
	decodeJSON(t, body, &recs)
	if code != 200 || len(recs) != 1 || recs[0].Name != "a" || recs[0].Owner != f.owner.String() || recs[0].Value == nil {
		t.Fatalf("%d %s", code, body)
	}
	code, body = do("GET", "/v1/dht/provided", "")
	var ps []wire.Provision
	decodeJSON(t, body, &ps)
	c, _ := records.ProviderCID("k")
	if code != 200 || len(ps) != 1 || ps[0].Key != "k" || ps[0].CID != c.String() || ps[0].Since.Year() != 2026 {
		t.Fatalf("%d %s", code, body)
	}
}

func TestDHTProvide(t *testing.T) {
	f, do := newRecordsAPI(t)
	code, body := do("POST", "/v1/dht/provide", `{"key":"my-dataset"}`)
	var res wire.ProvideResult
	decodeJSON(t, body, &res)
	c, _ := records.ProviderCID("my-dataset")
	if code != 200 || res.Key != "my-dataset" || res.CID != c.String() || len(f.provided) != 1 {
		t.Fatalf("%d %+v", code, res)
	}
	code, body = do("POST", "/v1/dht/provide", `{"key":""}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid provide key")
	code, body = do("POST", "/v1/dht/provide", `{"key":"`+strings.Repeat("k", records.MaxProvideKeySize+1)+`"}`)
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid provide key")
	code, body = do("POST", "/v1/dht/provide", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "empty request body")
}

func TestDHTFindProvs(t *testing.T) {
	f, do := newRecordsAPI(t)
	p := testPeer(t)
	f.found = []peer.AddrInfo{{ID: p, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1")}}}
	code, body := do("GET", "/v1/dht/findprovs?key=x", "")
	var ps []wire.Provider
	decodeJSON(t, body, &ps)
	if code != 200 || f.gotCount != records.DefaultFindProvidersCount || len(ps) != 1 || ps[0].PeerID != p.String() ||
		ps[0].Addrs[0] != "/ip4/127.0.0.1/tcp/1" {
		t.Fatalf("%d %s (count %d)", code, body, f.gotCount)
	}
	if code, body = do("GET", "/v1/dht/findprovs?key=x&count=3", ""); code != 200 || f.gotCount != 3 {
		t.Fatalf("count=3: %d %s (count %d)", code, body, f.gotCount)
	}
	f.found = nil
	if code, body = do("GET", "/v1/dht/findprovs?key=x", ""); code != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("none found: %d %s", code, body)
	}
	for _, bad := range []string{"0", "101", "-1", "many", ""} {
		code, body = do("GET", "/v1/dht/findprovs?key=x&count="+bad, "")
		wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid count")
	}
	code, body = do("GET", "/v1/dht/findprovs", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "invalid provide key")
	f.err = fmt.Errorf("records: find providers: %w", context.DeadlineExceeded)
	code, body = do("GET", "/v1/dht/findprovs?key=x", "")
	wantError(t, code, body, 408, wire.CodeTimeout, "deadline exceeded")
}

// Every event payload the records service publishes has a wire form.
func TestRecordsEventsConvert(t *testing.T) {
	p := testPeer(t)
	c, _ := records.ProviderCID("k")
	eol := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	v, ok := recordsEventWire(records.RecordEvent{Key: records.Key(p, "n"), Namespace: "plexus", Owner: p, Name: "n", Seq: 2, EOL: eol, Size: 5})
	if ev, _ := v.(wire.RecordEvent); !ok || ev.Namespace != "plexus" || ev.Owner != p.String() || ev.Seq != 2 || !ev.EOL.Equal(eol) || ev.Size != 5 {
		t.Fatalf("record event: %#v", v)
	}
	v, ok = recordsEventWire(records.ProviderEvent{Key: "k", CID: c})
	if ev, _ := v.(wire.ProviderEvent); !ok || ev.CID != c.String() || ev.Key != "k" {
		t.Fatalf("provider event: %#v", v)
	}
	if _, ok := recordsEventWire("other"); ok {
		t.Fatal("converted a foreign payload")
	}
	// Through the table used by the event stream.
	if _, ok := eventWire(records.ProviderEvent{Key: "k", CID: c}).(wire.ProviderEvent); !ok {
		t.Fatal("recordsEventWire is not in eventConverters")
	}
}
