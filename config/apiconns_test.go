package config_test

import (
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/config"
)

func TestAPIConnectionSettings(t *testing.T) {
	c := config.Default()
	if c.API.MaxConnections != 512 || c.API.ReadHeaderTimeout != config.DefaultAPIReadHeaderTimeout ||
		c.API.IdleTimeout != config.DefaultAPIIdleTimeout || c.API.WriteTimeout != config.DefaultAPIWriteTimeout {
		t.Fatalf("defaults: %+v", c.API)
	}
	for _, tc := range []struct{ key, value, want string }{
		{"api.max_connections", "64", "64"},
		{"api.read_header_timeout", "5s", `"5s"`},
		{"api.idle_timeout", "2m", `"2m0s"`},
		{"api.write_timeout", "1m", `"1m0s"`},
	} {
		if err := config.Set(&c, tc.key, tc.value); err != nil {
			t.Fatalf("set %s=%s: %v", tc.key, tc.value, err)
		}
		if got, _ := config.Get(c, tc.key); got != tc.want {
			t.Fatalf("get %s = %s, want %s", tc.key, got, tc.want)
		}
	}
	for _, bad := range []struct{ key, value string }{
		{"api.max_connections", "0"},
		{"api.max_connections", "7"},
		{"api.max_connections", "70000"},
		{"api.read_header_timeout", "0s"},
		{"api.read_header_timeout", "11m"},
		{"api.idle_timeout", "500ms"},
		{"api.write_timeout", "0s"},
	} {
		c := config.Default()
		if err := config.Set(&c, bad.key, bad.value); err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Fatalf("set %s=%q: %v; want an error naming %s", bad.key, bad.value, err, bad.key)
		}
	}
	// A config written before these settings existed gets the defaults.
	c, err := config.Parse([]byte("[api]\nlisten = \"127.0.0.1:5101\""))
	if err != nil || c.API.MaxConnections != config.DefaultAPIMaxConnections || c.API.IdleTimeout != config.DefaultAPIIdleTimeout {
		t.Fatalf("old config: %+v %v", c.API, err)
	}
}
