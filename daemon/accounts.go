package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	leveldb "github.com/ipfs/go-ds-leveldb"

	"github.com/plexus-p2p/plexus/api"
	"github.com/plexus-p2p/plexus/auth"
	"github.com/plexus-p2p/plexus/config"
)

// ErrDaemonRunning is returned by OpenAccounts when a daemon holds the repo:
// go through its API instead.
var ErrDaemonRunning = errors.New("a daemon holds the repo")

// Accounts serves the accounts routes of a repo whose daemon is not
// running, in this process: it holds the repo lock and the datastore until
// Close. It is an http.RoundTripper, so the typed client talks to it as to a
// daemon (with the repo's api.token) and every check of the API applies.
type Accounts struct {
	Token string // the repo's api.token

	h      http.Handler
	ds     *leveldb.Datastore
	unlock func()
}

// OpenAccounts takes the repo's lock and opens its datastore. While a
// daemon runs on the repo it fails with ErrDaemonRunning.
func OpenAccounts(repo config.Repo, logger *slog.Logger) (_ *Accounts, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	if _, err := repo.Key(); err != nil {
		return nil, err
	}
	cfg, err := repo.Config()
	if err != nil {
		return nil, err
	}
	a := &Accounts{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.unlock, err = repo.Lock(); err != nil {
		if errors.Is(err, config.ErrLocked) {
			return nil, fmt.Errorf("%w: %w", ErrDaemonRunning, err)
		}
		return nil, err
	}
	if a.Token, err = repo.Token(); err != nil {
		return nil, err
	}
	if a.ds, err = leveldb.NewDatastore(repo.File(config.DatastoreDir), nil); err != nil {
		return nil, fmt.Errorf("open datastore %s: %w", repo.File(config.DatastoreDir), err)
	}
	svc, err := auth.New(a.ds, auth.WithSessionTTL(time.Duration(cfg.API.SessionTTL)), auth.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	srv, err := api.NewAccounts(svc, api.Options{Token: a.Token, Logger: logger})
	if err != nil {
		return nil, err
	}
	a.h = srv.Handler()
	return a, nil
}

// RoundTrip serves one request in this process.
func (a *Accounts) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RemoteAddr = "in-process"
	w := &memResponse{header: http.Header{}}
	a.h.ServeHTTP(w, r)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return &http.Response{Status: fmt.Sprintf("%d %s", w.code, http.StatusText(w.code)), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: w.header,
		Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: req}, nil
}

// memResponse collects an in-process answer.
type memResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (m *memResponse) Header() http.Header { return m.header }

func (m *memResponse) WriteHeader(code int) {
	if m.code == 0 {
		m.code = code
	}
}

func (m *memResponse) Write(b []byte) (int, error) {
	m.WriteHeader(http.StatusOK)
	return m.body.Write(b)
}

// Close closes the datastore and releases the repo lock.
func (a *Accounts) Close() error {
	var err error
	if a.ds != nil {
		err = a.ds.Close()
		a.ds = nil
	}
	if a.unlock != nil {
		a.unlock()
		a.unlock = nil
	}
	return err
}
