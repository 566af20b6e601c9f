// Package api serves the node over HTTP: a versioned JSON API under /v1/,
// a Server-Sent Events stream of the node's events, Prometheus /metrics and
// /healthz. Every route but /healthz needs the bearer token; mutating routes
// reject cross-origin browser requests.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/discovery"
	"github.com/plexus-p2p/plexus/events"
	"github.com/plexus-p2p/plexus/messaging"
	"github.com/plexus-p2p/plexus/node"
	"github.com/plexus-p2p/plexus/pubsub"
	"github.com/plexus-p2p/plexus/records"
)

// Node is what the API needs from the node.
type Node interface {
	Info() wire.ID
	Peers() []wire.Peer
	Connect(ctx context.Context, addr string) (wire.ConnectResult, error)
	Disconnect(peerID string) error
	Ping(ctx context.Context, target string, count int) (wire.PingResult, error)
	Events() *events.Bus
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
	node     Node
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	csrf     *http.CrossOriginProtection
	requests *prometheus.CounterVec
}

// New builds the API for a node. Register capability routes with the
// Handle* methods before serving.
func New(n Node, opts Options) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("api: a token is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 4 << 20 // a 1 MiB message is 1.4 MiB in base64
	}
	s := &Server{node: n, opts: opts, log: opts.Logger.With("component", "api"),
		mux: http.NewServeMux(), csrf: http.NewCrossOriginProtection()}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "plexus_api_requests_total", Help: "HTTP API requests by route and status code.",
	}, []string{"route", "code"})
	if opts.Registry != nil {
		if err := opts.Registry.Register(s.requests); err != nil {
			return nil, fmt.Errorf("api metrics: %w", err)
		}
	}
	s.routes()
	return s, nil
}

// routes is the route table: one line per route.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz) // no token
	s.handle("GET /metrics", s.metrics)
	s.handle("GET /v1/id", s.getID)
	s.handle("GET /v1/peers", s.getPeers)
	s.handle("POST /v1/connect", s.postConnect)
	s.handle("POST /v1/disconnect", s.postDisconnect)
	s.handle("POST /v1/ping", s.postPing)
	s.handle("GET /v1/events", s.getEvents)
	s.handle("POST /v1/shutdown", s.postShutdown)
	s.handle("GET /v1/nat", s.getNAT) // the connectivity doctor
	if dn, ok := s.node.(discoveryNode); ok {
		s.discoveryRoutes(dn) // /v1/peers/known, bootstrap, dht/table|findpeer|closest, explore, discover/*
	}
	if pn, ok := s.node.(perfNode); ok {
		s.perfRoutes(pn) // /v1/perf
	}
	if rn, ok := s.node.(recordsNode); ok {
		s.recordsRoutes(rn) // /v1/dht/put, get, records, provide, provided, findprovs
	}
	if p, ok := s.node.(pubsubNode); ok {
		s.pubsubRoutes(p.PubSub()) // /v1/pubsub/...
	}
	if m, ok := s.node.(messagingNode); ok {
		s.messagingRoutes(m) // /v1/send, /v1/handlers
	}
	s.mux.Handle("/", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no route %s %s", r.Method, r.URL.Path))
	})))
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

// HandleFunc lets capability packages add routes (authenticated like the
// built-in ones), for example "POST /v1/pubsub/publish".
func (s *Server) HandleFunc(pattern string, h http.HandlerFunc) { s.handle(pattern, h) }

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.mux }

// MetricsHandler serves /metrics without a token, for a separate listener.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.metrics)
	return mux
}

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
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// DecodeJSON reads a JSON body of at most the configured size into v,
// rejecting unknown fields and trailing data. On failure it has already
// written a 400 response and returns false.
func (s *Server) DecodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body is larger than %d bytes", mbe.Limit))
		case errors.Is(err, io.EOF):
			writeError(w, http.StatusBadRequest, errors.New("empty request body: a JSON object is required"))
		default:
			writeError(w, http.StatusBadRequest, fmt.Errorf("invalid JSON body: %v", err))
		}
		return false
	}
	return true
}

// WriteJSON writes v with the given status.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	WriteJSON(w, code, wire.Error{Error: err.Error()})
}

// WriteError maps err to a status code (see statusOf) and writes it as JSON.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	if code >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, code, err)
}

// answer writes v as JSON, or the error with its status.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, v)
}

// statusTable maps error classes to status codes, first match wins.
var statusTable = []struct {
	err  error
	code int
}{
	{node.ErrInvalidArgument, http.StatusBadRequest},
	{node.ErrNotFound, http.StatusNotFound},
	{node.ErrUnreachable, http.StatusNotFound},
	{node.ErrClosed, http.StatusServiceUnavailable},
	{records.ErrNotFound, http.StatusNotFound},
	{records.ErrValueTooLarge, http.StatusRequestEntityTooLarge},
	{records.ErrInvalidKey, http.StatusBadRequest},
	{records.ErrUnknownNamespace, http.StatusBadRequest},
	{records.ErrInvalidName, http.StatusBadRequest},
	{records.ErrInvalidRecord, http.StatusBadRequest},
	{records.ErrBadSignature, http.StatusBadRequest},
	{records.ErrNotOwner, http.StatusForbidden},
	{records.ErrExpired, http.StatusBadRequest},
	{records.ErrInvalidProvideKey, http.StatusBadRequest},
	{discovery.ErrInvalidTopic, http.StatusBadRequest},
	{discovery.ErrAlreadyJoined, http.StatusConflict},
	{discovery.ErrNotJoined, http.StatusNotFound},
	{pubsub.ErrInvalidTopic, http.StatusBadRequest},
	{pubsub.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{pubsub.ErrNotJoined, http.StatusNotFound},
	{messaging.ErrInvalidProtocol, http.StatusBadRequest},
	{messaging.ErrInvalidURL, http.StatusBadRequest},
	{messaging.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{messaging.ErrProtocolNotSupported, http.StatusNotFound},
	{messaging.ErrNotHandled, http.StatusNotFound},
	{messaging.ErrAlreadyHandled, http.StatusConflict},
	{messaging.ErrTimeout, http.StatusRequestTimeout},
	{messaging.ErrBusy, http.StatusServiceUnavailable},
	{messaging.ErrBadRequest, http.StatusBadGateway},
	{context.DeadlineExceeded, http.StatusRequestTimeout},
}

func statusOf(err error) int {
	var he *messaging.HandlerError
	if errors.As(err, &he) {
		return http.StatusBadGateway // the remote application's handler failed
	}
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return http.StatusInternalServerError
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.opts.Registry == nil {
		writeError(w, http.StatusNotFound, errors.New("metrics are not enabled"))
		return
	}
	promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}
