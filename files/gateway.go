package files

import (
	"net/http"
	"strings"
	"sync"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/gateway"
)

// GatewayHandler serves the IPFS trustless gateway responses
// (/ipfs/{cid}?format=raw and ?format=car, or the matching Accept headers)
// from the local store only: nothing is fetched for a gateway client, and
// deserialized responses, /ipns/ and DNSLink are off. files-api mounts it
// on the gateway.listen listener.
func (s *Service) GatewayHandler() http.Handler {
	s.gatewayOnce.Do(func() {
		backend, err := gateway.NewBlocksBackend(blockservice.New(s.bs, nil))
		if err != nil {
			s.gatewayErr = err
			return
		}
		h := gateway.NewHandler(gateway.Config{DeserializedResponses: false, NoDNSLink: true}, backend)
		s.gateway = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/ipfs/") {
				http.Error(w, "this gateway serves only /ipfs/{cid} (trustless: ?format=raw or ?format=car)", http.StatusNotFound)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	if s.gatewayErr != nil {
		err := s.gatewayErr
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "gateway unavailable: "+err.Error(), http.StatusInternalServerError)
		})
	}
	return s.gateway
}

type gatewayState struct {
	gatewayOnce sync.Once
	gateway     http.Handler
	gatewayErr  error
}
