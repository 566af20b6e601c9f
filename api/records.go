package api

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/records"
)

// Records is what the DHT record and provider routes need;
// *records.Service implements it.
type Records interface {
	// Put publishes value under this node's record name; ttl 0 uses the
	// configured default.
	Put(ctx context.Context, name string, value []byte, ttl time.Duration) (records.Record, error)
	// Get fetches and verifies the best record under key: a Plexus
	// record, or the raw value of a record of another namespace the DHT
	// validates (pk, ipns).
	Get(ctx context.Context, key string) (records.Record, error)
	// OwnRecords lists the records this node publishes and republishes.
	OwnRecords(ctx context.Context) ([]records.Record, error)
	// Provide announces this node as a provider of key and keeps doing so.
	Provide(ctx context.Context, key string) error
	// Provided lists the keys this node provides.
	Provided(ctx context.Context) ([]records.Provision, error)
	// FindProviders looks for up to n providers of key.
	FindProviders(ctx context.Context, key string, n int) ([]peer.AddrInfo, error)
}

// maxFindProviders bounds ?count= of findprovs.
const maxFindProviders = 100

// maxTTLMS is the largest ttl_ms that converts to a time.Duration;
// config.CheckRecordTTL checks the actual bounds.
const maxTTLMS = math.MaxInt64 / float64(time.Millisecond)

func (s *Server) postDHTPut(w http.ResponseWriter, r *http.Request) {
	var req wire.PutRequest
	if !s.decode(w, r, &req) {
		return
	}
	var ttl time.Duration // absent: the node's default
	if req.TTLMS != nil {
		v := *req.TTLMS
		if v < 0 || v > maxTTLMS {
			s.fail(w, r, invalid("invalid ttl_ms %v: want %.0f to %.0f milliseconds, or no ttl_ms for the default", v, ms(records.MinTTL), ms(records.MaxTTL)))
			return
		}
		ttl = fromMS(v)
		if err := config.CheckRecordTTL(ttl); err != nil {
			s.fail(w, r, invalid("invalid ttl_ms %v: %w; want %.0f to %.0f milliseconds, or no ttl_ms for the default", v, err, ms(records.MinTTL), ms(records.MaxTTL)))
			return
		}
	}
	rec, err := s.svc.Records.Put(r.Context(), req.Name, req.Value, ttl)
	s.answer(w, r, recordWire(rec), err)
}

func (s *Server) getDHTGet(w http.ResponseWriter, r *http.Request) {
	rec, err := s.svc.Records.Get(r.Context(), r.URL.Query().Get("key"))
	s.answer(w, r, recordWire(rec), err)
}

func (s *Server) getDHTRecords(w http.ResponseWriter, r *http.Request) {
	own, err := s.svc.Records.OwnRecords(r.Context())
	out := make([]wire.Record, len(own))
	for i, rec := range own {
		out[i] = recordWire(rec)
	}
	s.answer(w, r, out, err)
}

func (s *Server) postDHTProvide(w http.ResponseWriter, r *http.Request) {
	var req wire.KeyRequest
	if !s.decode(w, r, &req) {
		return
	}
	if err := s.svc.Records.Provide(r.Context(), req.Key); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := records.ProviderCID(req.Key) // Provide has checked the key
	s.answer(w, r, wire.ProvideResult{Key: req.Key, CID: c.String()}, err)
}

func (s *Server) getDHTProvided(w http.ResponseWriter, r *http.Request) {
	ps, err := s.svc.Records.Provided(r.Context())
	out := make([]wire.Provision, len(ps))
	for i, p := range ps {
		out[i] = wire.Provision{Key: p.Key, CID: p.CID.String(), Since: p.Since}
	}
	s.answer(w, r, out, err)
}

func (s *Server) getDHTFindProvs(w http.ResponseWriter, r *http.Request) {
	count, err := queryInt(r, "count", records.DefaultFindProvidersCount, 1, maxFindProviders)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ais, err := s.svc.Records.FindProviders(r.Context(), r.URL.Query().Get("key"), count)
	out := make([]wire.Provider, len(ais))
	for i, ai := range ais {
		out[i] = wire.Provider{PeerID: ai.ID.String(), Addrs: addrStrings(ai.Addrs)}
	}
	s.answer(w, r, out, err)
}

func recordWire(r records.Record) wire.Record {
	v := r.Value
	if v == nil {
		v = []byte{}
	}
	return wire.Record{Key: r.Key, Namespace: r.Namespace(), Owner: r.Owner.String(), Name: r.Name, Value: v, Seq: r.Seq, EOL: r.EOL}
}

// recordsEventWire converts the records service's event payloads.
func recordsEventWire(data any) (any, bool) {
	switch e := data.(type) {
	case records.RecordEvent:
		return wire.RecordEvent{Key: e.Key, Namespace: e.Namespace, Owner: e.Owner.String(), Name: e.Name, Seq: e.Seq, EOL: e.EOL, Size: e.Size}, true
	case records.ProviderEvent:
		return wire.ProviderEvent{Key: e.Key, CID: e.CID.String()}, true
	}
	return nil, false
}
