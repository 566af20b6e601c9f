package api

import (
	"context"
	"net/http"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/records"
)

// Records is what the DHT record routes need.
type Records interface {
	Records() *records.Service
	FindProviders(ctx context.Context, key string, count int) ([]wire.Provider, error)
}

// maxFindProviders bounds ?count= of findprovs.
const maxFindProviders = 100

func (s *Server) postDHTPut(w http.ResponseWriter, r *http.Request) {
	var req wire.PutRequest
	if !s.decode(w, r, &req) {
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			s.fail(w, r, invalid("invalid ttl %q: want a positive duration such as 1h", req.TTL))
			return
		}
		ttl = d
	}
	rec, err := s.svc.Records.Records().Put(r.Context(), req.Name, req.Value, ttl)
	s.answer(w, r, rec, err)
}

func (s *Server) getDHTGet(w http.ResponseWriter, r *http.Request) {
	rec, err := s.svc.Records.Records().Get(r.Context(), r.URL.Query().Get("key"))
	s.answer(w, r, rec, err)
}

func (s *Server) getDHTRecords(w http.ResponseWriter, r *http.Request) {
	own, err := s.svc.Records.Records().OwnRecords(r.Context())
	s.answer(w, r, own, err)
}

func (s *Server) postDHTProvide(w http.ResponseWriter, r *http.Request) {
	var req wire.KeyRequest
	if !s.decode(w, r, &req) {
		return
	}
	if err := s.svc.Records.Records().Provide(r.Context(), req.Key); err != nil {
		s.fail(w, r, err)
		return
	}
	c, _ := records.ProviderCID(req.Key)
	writeJSON(w, http.StatusOK, map[string]string{"key": req.Key, "cid": c.String()})
}

func (s *Server) getDHTProvided(w http.ResponseWriter, r *http.Request) {
	ps, err := s.svc.Records.Records().Provided(r.Context())
	s.answer(w, r, ps, err)
}

func (s *Server) getDHTFindProvs(w http.ResponseWriter, r *http.Request) {
	count, err := queryInt(r, "count", 20, 1, maxFindProviders)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ps, err := s.svc.Records.FindProviders(r.Context(), r.URL.Query().Get("key"), count)
	s.answer(w, r, ps, err)
}
