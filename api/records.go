package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/records"
)

// recordsNode is what the DHT record routes need.
type recordsNode interface {
	Records() *records.Service
	FindProviders(ctx context.Context, key string, count int) ([]wire.Provider, error)
}

// maxFindProviders bounds ?count= of findprovs.
const maxFindProviders = 100

func (s *Server) recordsRoutes(n recordsNode) {
	rs := n.Records()
	s.handle("POST /v1/dht/put", func(w http.ResponseWriter, r *http.Request) {
		var req wire.PutRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		var ttl time.Duration
		if req.TTL != "" {
			d, err := time.ParseDuration(req.TTL)
			if err != nil || d <= 0 {
				writeError(w, http.StatusBadRequest, fmt.Errorf("invalid ttl %q: want a positive duration such as 1h", req.TTL))
				return
			}
			ttl = d
		}
		rec, err := rs.Put(r.Context(), req.Name, req.Value, ttl)
		s.answer(w, r, rec, err)
	})
	s.handle("GET /v1/dht/get", func(w http.ResponseWriter, r *http.Request) {
		rec, err := rs.Get(r.Context(), r.URL.Query().Get("key"))
		s.answer(w, r, rec, err)
	})
	s.handle("GET /v1/dht/records", func(w http.ResponseWriter, r *http.Request) {
		own, err := rs.OwnRecords(r.Context())
		s.answer(w, r, own, err)
	})
	s.handle("POST /v1/dht/provide", func(w http.ResponseWriter, r *http.Request) {
		var req wire.KeyRequest
		if !s.DecodeJSON(w, r, &req) {
			return
		}
		if err := rs.Provide(r.Context(), req.Key); err != nil {
			s.WriteError(w, r, err)
			return
		}
		c, _ := records.ProviderCID(req.Key)
		WriteJSON(w, http.StatusOK, map[string]string{"key": req.Key, "cid": c.String()})
	})
	s.handle("GET /v1/dht/provided", func(w http.ResponseWriter, r *http.Request) {
		ps, err := rs.Provided(r.Context())
		s.answer(w, r, ps, err)
	})
	s.handle("GET /v1/dht/findprovs", func(w http.ResponseWriter, r *http.Request) {
		count := 20
		if v := r.URL.Query().Get("count"); v != "" {
			c, err := strconv.Atoi(v)
			if err != nil || c < 1 || c > maxFindProviders {
				writeError(w, http.StatusBadRequest, fmt.Errorf("invalid count %q: want 1..%d", v, maxFindProviders))
				return
			}
			count = c
		}
		ps, err := n.FindProviders(r.Context(), r.URL.Query().Get("key"), count)
		s.answer(w, r, ps, err)
	})
}
