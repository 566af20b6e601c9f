// Package api serves the node over HTTP: a versioned JSON API under /v1/,
// a Server-Sent Events stream of the node's events, Prometheus /metrics,
// /healthz and the API's own OpenAPI description. It is the only layer that
// turns JSON and strings into typed Go and back: below it every service
// speaks peer.ID, multiaddr and time.Duration; above it is the wire contract
// of package api/wire.
//
// New takes one small interface per capability (Services), declared here and
// implemented by the node and its services, so a missing method fails to
// compile and every handler can be tested against fakes. Every route but
// /healthz needs the bearer token; mutating routes reject cross-origin
// browser requests.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Services are the capabilities the API serves. Every field is required.
type Services struct {
	Node      Node      // id, peers, connect, disconnect, ping, events
	Discovery Discovery // known peers, bootstrap, rendezvous
	Routing   Routing   // the Kademlia routing table, lookups, the crawler
	Records   Records   // signed DHT records and provider records
	Perf      Perf      // throughput measurement
	PubSub    PubSub    // gossipsub topics
	Messaging Messaging // request/response
	NAT       NAT       // the connectivity doctor
	ACL       ACL       // the peer allowlist and denylist
}

// Options configure a Server.
type Options struct {
	// Token is the bearer token every route but /healthz requires (required).
	Token string
	// Shutdown is called (once, asynchronously) by POST /v1/shutdown.
	Shutdown func()
	// Registry serves /metrics and receives the API's own metrics. Optional.
	Registry *prometheus.Registry
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds JSON request bodies. Default 4 MiB.
	MaxBodyBytes int64
}

// Server is the HTTP API of one node.
type Server struct {
	svc      Services
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	csrf     *http.CrossOriginProtection
	requests *prometheus.CounterVec
	openapi  []byte // the OpenAPI description of the route table
}

// New builds the API for the given services.
func New(svc Services, opts Options) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("api: a token is required")
	}
	sv := reflect.ValueOf(svc)
	for i := range sv.NumField() {
		if sv.Field(i).IsNil() {
			return nil, fmt.Errorf("api: Services.%s is required", sv.Type().Field(i).Name)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 4 << 20 // a 1 MiB message is 1.4 MiB in base64
	}
	s := &Server{svc: svc, opts: opts, log: opts.Logger.With("component", "api"),
		mux: http.NewServeMux(), csrf: http.NewCrossOriginProtection()}
	s.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, errors.New("cross-origin request refused: the API only accepts same-origin browser requests"))
	}))
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "plexus_api_requests_total", Help: "HTTP API requests by route and status code.",
	}, []string{"route", "code"})
	if opts.Registry != nil {
		if err := opts.Registry.Register(s.requests); err != nil {
			return nil, fmt.Errorf("api metrics: %w", err)
		}
	}
	table := s.routes()
	doc, err := openAPI(table)
	if err != nil {
		return nil, fmt.Errorf("api: describe routes: %w", err)
	}
	s.openapi = doc
	s.mux.HandleFunc("GET /healthz", s.healthz) // the only route without a token
	for _, rt := range table {
		s.handle(rt.pattern, rt.handler)
	}
	s.mux.Handle("/", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no route %s %s", r.Method, r.URL.Path))
	})))
	return s, nil
}

// handle registers an authenticated, cross-origin-protected route with a
// request counter and the optional ?timeout= bound.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	var next http.Handler = h
	next = s.withTimeout(next)
	next = s.csrf.Handler(next)
	next = s.auth(next)
	route := pattern
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
	}))
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.mux }

// MetricsHandler serves /metrics without a token, for a separate listener.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.metrics)
	return mux
}

// OpenAPI returns the OpenAPI 3.1 description of the API (JSON).
func (s *Server) OpenAPI() []byte { return s.openapi }

// Serve serves the API on l until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) auth(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		if got == "" {
			writeError(w, http.StatusUnauthorized, errors.New("missing API token: send \"Authorization: Bearer <token>\" (the token is in the repo's api.token file)"))
			return
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			writeError(w, http.StatusUnauthorized, errors.New("wrong API token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withTimeout bounds the request by ?timeout=DURATION (for example 5s).
func (s *Server) withTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("timeout")
		if v == "" {
			next.ServeHTTP(w, r)
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("invalid timeout %q: want a positive duration such as 5s", v))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush lets the SSE handler flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.opts.Registry == nil {
		writeError(w, http.StatusNotFound, errors.New("metrics are not enabled"))
		return
	}
	promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.openapi)
}
