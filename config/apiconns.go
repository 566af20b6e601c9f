package config

import (
	"fmt"
	"time"
)

// Defaults and bounds of the API's connection settings (api.max_connections,
// api.read_header_timeout, api.idle_timeout, api.write_timeout). Package api
// takes its defaults from these.
const (
	// DefaultAPIMaxConnections caps the API's open connections: far more
	// than a CLI, a dashboard and applications use, far fewer than the
	// process's file descriptors.
	DefaultAPIMaxConnections = 512
	MinAPIMaxConnections     = 8
	MaxAPIMaxConnections     = 65536
	// DefaultAPIReadHeaderTimeout bounds the sending of a request's headers.
	DefaultAPIReadHeaderTimeout = Duration(10 * time.Second)
	// DefaultAPIIdleTimeout closes idle keep-alive connections.
	DefaultAPIIdleTimeout = Duration(time.Minute)
	// DefaultAPIWriteTimeout bounds each write to a client that stopped reading.
	DefaultAPIWriteTimeout = Duration(30 * time.Second)
)

func (c *Config) validateAPIConns() []error {
	a := c.API
	var errs []error
	if a.MaxConnections < MinAPIMaxConnections || a.MaxConnections > MaxAPIMaxConnections {
		errs = append(errs, fmt.Errorf("api.max_connections: %d is outside %d..%d", a.MaxConnections, MinAPIMaxConnections, MaxAPIMaxConnections))
	}
	for _, d := range []struct {
		key      string
		v        Duration
		min, max time.Duration
	}{
		{"api.read_header_timeout", a.ReadHeaderTimeout, time.Second, 10 * time.Minute},
		{"api.idle_timeout", a.IdleTimeout, time.Second, 24 * time.Hour},
		{"api.write_timeout", a.WriteTimeout, time.Second, 10 * time.Minute},
	} {
		if time.Duration(d.v) < d.min || time.Duration(d.v) > d.max {
			errs = append(errs, fmt.Errorf("%s: %s is outside [%s, %s]", d.key, time.Duration(d.v), d.min, d.max))
		}
	}
	return errs
}

func defaultAPI() API {
	return API{Listen: fmt.Sprintf("127.0.0.1:%d", DefaultAPIPort), Registration: RegistrationAdmin, SessionTTL: Duration(DefaultSessionTTL),
		MaxConnections: DefaultAPIMaxConnections, ReadHeaderTimeout: DefaultAPIReadHeaderTimeout,
		IdleTimeout: DefaultAPIIdleTimeout, WriteTimeout: DefaultAPIWriteTimeout}
}
