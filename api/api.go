// Package api serves the node over HTTP: a versioned JSON API under /v1/,
// a Server-Sent Events stream of the node's events, Prometheus /metrics,
// /healthz and the API's own OpenAPI description. It is the only layer that
// turns JSON and strings into typed Go and back: below it every service
// speaks peer.ID, multiaddr and time.Duration; above it is the wire contract
// of package api/wire.
//
// New takes one small interface per capability (Services), declared here and
// implemented by the node and its services, so a missing method fails to
// compile and every handler can be tested against fakes.
//
// Every route but /healthz and POST /v1/auth/login needs credentials: the
// repo's api.token (the machine's admin), a user's API token, or a user's
// session cookie, which needs the session's CSRF token on mutating
// requests. Each route needs a role, viewer or admin (routeAccess in
// routes.go). Mutating routes reject cross-origin browser requests.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
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
	Auth      Auth      // user accounts, sessions and API tokens
	Tunnels   Tunnels   // local TCP services exposed and forwarded over streams
	Files     Files     // content-addressed files (UnixFS, IPFS compatible)
}

// Options configure a Server.
type Options struct {
	// Token is the repo's api.token: a bearer token with the admin role (required).
	Token string
	// OpenRegistration lets anyone create a viewer account with POST
	// /v1/auth/register (api.registration = "open"); otherwise only an admin.
	OpenRegistration bool
	// Shutdown is called (once, asynchronously) by POST /v1/shutdown.
	Shutdown func()
	// Registry serves /metrics and receives the API's own metrics. Optional.
	Registry *prometheus.Registry
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds JSON request bodies. Default 4 MiB.
	MaxBodyBytes int64
	// UI, when set, serves the web dashboard at /ui/ without credentials
	// (its static files; the API routes it calls check them), and / sends
	// a browser there.
	UI http.Handler
	// Profile names the config profile the node runs with ("" for none);
	// GET /v1/id reports it.
	Profile string
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
	return newServer(svc, opts, func(string) bool { return true })
}

// NewAccounts serves only the accounts routes (/v1/auth/..., /v1/users,
// /v1/tokens) over a, with the same checks as New: the CLI uses it on a
// repo whose daemon is not running.
func NewAccounts(a Auth, opts Options) (*Server, error) {
	if a == nil {
		return nil, errors.New("api: Auth is required")
	}
	return newServer(Services{Auth: a}, opts, func(pattern string) bool {
		_, path, _ := strings.Cut(pattern, " ")
		return strings.HasPrefix(path, "/v1/auth/") || path == "/v1/users" || strings.HasPrefix(path, "/v1/users/") || path == "/v1/tokens"
	})
}

// newServer builds a server with the routes of the table that keep accepts.
func newServer(svc Services, opts Options, keep func(pattern string) bool) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("api: a token is required")
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
	s.mux.HandleFunc("GET /healthz", s.healthz) // needs no credentials, like POST /v1/auth/login
	if opts.UI != nil {
		s.mux.Handle("GET /ui/", opts.UI)
		s.mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
		s.mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	}
	for _, rt := range table {
		if keep(rt.pattern) {
			s.handle(rt.pattern, rt.handler)
		}
	}
	s.mux.Handle("/", s.authorize(accessViewer, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no route %s %s", r.Method, r.URL.Path))
	})))
	return s, nil
}

// handle registers a cross-origin-protected route that checks credentials
// and the route's role (routeAccess), with a request counter and the
// optional ?timeout= bound.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	var next http.Handler = h
	next = s.withTimeout(next)
	next = s.authorize(routeAccess(pattern), next)
	next = s.csrf.Handler(next)
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

// shutdownGrace bounds how long Serve waits for requests in flight once
// ctx has ended.
const shutdownGrace = 5 * time.Second

// Serve serves the API on l until ctx ends, with the default
// ServeOptions; see ServeWith.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	return ServeWith(ctx, l, h, ServeOptions{})
}

// ServeWith serves the API on l until ctx ends, then shuts down gracefully:
// it stops accepting connections and lets the requests in flight finish
// (the event stream ends after node.stopping, a pub/sub stream when its
// subscription closes), closing what is still open after shutdownGrace. It
// returns once the server has stopped. o caps the connections and bounds
// how long each may idle, send headers or block a write; there is no
// timeout on a whole request, so event streams stay open.
func ServeWith(ctx context.Context, l net.Listener, h http.Handler, o ServeOptions) error {
	o = o.withDefaults()
	cl := newConnLimiter(l, o)
	l = cl
	srv := &http.Server{Handler: h, ReadHeaderTimeout: o.ReadHeaderTimeout, IdleTimeout: o.IdleTimeout,
		ConnState: cl.connState, ConnContext: withConn}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// withTimeout bounds the request by ?timeout=DURATION (for example 5s).
func (s *Server) withTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("timeout")
		if v == "" && !r.URL.Query().Has("timeout") {
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
