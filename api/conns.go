package api

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/plexus-p2p/plexus/config"
)

// ServeOptions bound the connections of one API listener (issue 20 row 4:
// 20,000 idle TCP connections used to exhaust the daemon's file
// descriptors). Zero fields take the config defaults.
type ServeOptions struct {
	// MaxConns caps the open connections. At the cap a new connection
	// closes the oldest one that has not authenticated (idle, or still
	// sending its request), else the oldest idle authenticated one; a
	// connection serving an authenticated request (an event stream, a
	// lookup) is never closed for another. When every connection is such a
	// request, the new connection is closed. Default
	// config.DefaultAPIMaxConnections.
	MaxConns int
	// ReadHeaderTimeout bounds how long a connection may take to send a
	// request's headers (the first request's included: a connection that
	// sends nothing is closed after it). Default
	// config.DefaultAPIReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for this
	// long. Default config.DefaultAPIIdleTimeout.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to a connection, not a whole answer:
	// a client that reads nothing for this long is cut off, while an event
	// stream stays open as long as its client reads each event. Default
	// config.DefaultAPIWriteTimeout.
	WriteTimeout time.Duration
}

func (o ServeOptions) withDefaults() ServeOptions {
	if o.MaxConns <= 0 {
		o.MaxConns = config.DefaultAPIMaxConnections
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = time.Duration(config.DefaultAPIReadHeaderTimeout)
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = time.Duration(config.DefaultAPIIdleTimeout)
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = time.Duration(config.DefaultAPIWriteTimeout)
	}
	return o
}

// ServeOptionsFrom takes the API connection settings of a config.
func ServeOptionsFrom(c config.API) ServeOptions {
	return ServeOptions{MaxConns: c.MaxConnections, ReadHeaderTimeout: time.Duration(c.ReadHeaderTimeout),
		IdleTimeout: time.Duration(c.IdleTimeout), WriteTimeout: time.Duration(c.WriteTimeout)}
}

// connLimiter is a listener that keeps at most max connections open,
// closing the least valuable one for a new one (see ServeOptions.MaxConns).
type connLimiter struct {
	net.Listener
	max          int
	writeTimeout time.Duration

	mu    sync.Mutex
	seq   uint64
	conns map[*apiConn]struct{}
}

func newConnLimiter(l net.Listener, o ServeOptions) *connLimiter {
	return &connLimiter{Listener: l, max: o.MaxConns, writeTimeout: o.WriteTimeout, conns: map[*apiConn]struct{}{}}
}

// apiConn is one accepted connection; its fields other than Conn are
// guarded by the limiter's mutex.
type apiConn struct {
	net.Conn
	l             *connLimiter
	seq           uint64 // accept order, and the order of the last request's start
	state         http.ConnState
	authenticated bool // a request on it has presented valid credentials
}

// Accept returns the next connection, closing another one (or the new one)
// when the cap is reached.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		var victim *apiConn
		if len(l.conns) >= l.max {
			victim = l.victimLocked()
			if victim == nil {
				l.mu.Unlock()
				c.Close() // every slot serves an authenticated request
				continue
			}
			delete(l.conns, victim)
		}
		l.seq++
		ac := &apiConn{Conn: c, l: l, seq: l.seq, state: http.StateNew}
		l.conns[ac] = struct{}{}
		l.mu.Unlock()
		if victim != nil {
			victim.Conn.Close() // the server sees the error and lets go of it
		}
		return ac, nil
	}
}

// victimLocked picks the connection to close for a new one: the oldest that
// has not authenticated, else the oldest idle one; nil when every
// connection serves an authenticated request.
func (l *connLimiter) victimLocked() *apiConn {
	var anon, idle *apiConn
	for c := range l.conns {
		switch {
		case c.state == http.StateHijacked:
		case !c.authenticated:
			if anon == nil || c.seq < anon.seq {
				anon = c
			}
		case c.state == http.StateIdle || c.state == http.StateNew:
			if idle == nil || c.seq < idle.seq {
				idle = c
			}
		}
	}
	if anon != nil {
		return anon
	}
	return idle
}

// open reports the number of open connections.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *connLimiter) connState(c net.Conn, st http.ConnState) {
	ac, ok := c.(*apiConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st == http.StateActive && ac.state != http.StateActive {
		l.seq++
		ac.seq = l.seq // a connection in use is younger than an idle one
	}
	ac.state = st
	if st == http.StateClosed || st == http.StateHijacked {
		delete(l.conns, ac)
	}
}

// Write sets a deadline for each write: a client that stops reading holds
// its connection for at most WriteTimeout.
func (c *apiConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.l.writeTimeout))
	return c.Conn.Write(p)
}

func (c *apiConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

type connKey struct{}

// withConn puts the connection in the request's context, so that a request
// with valid credentials can mark it (markAuthenticated).
func withConn(ctx context.Context, c net.Conn) context.Context {
	if ac, ok := c.(*apiConn); ok {
		return context.WithValue(ctx, connKey{}, ac)
	}
	return ctx
}

// markAuthenticated records that the request's connection presented valid
// credentials: it is closed for a new connection only after every
// connection that has not.
func markAuthenticated(ctx context.Context) {
	ac, ok := ctx.Value(connKey{}).(*apiConn)
	if !ok {
		return
	}
	ac.l.mu.Lock()
	ac.authenticated = true
	ac.l.mu.Unlock()
}
