package config_test

import (
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/config"
)

// The API and the metrics listener stay on loopback unless
// api.allow_remote says otherwise; the error names the setting.
func TestAPIAllowRemote(t *testing.T) {
	for _, c := range []struct {
		listen, metrics string
		allow           bool
		bad             string // the setting named in the error; "" for valid
	}{
		{"127.0.0.1:5101", "", false, ""},
		{"[::1]:0", "127.0.0.2:9101", false, ""},
		{"localhost:5101", "", false, ""},
		{"0.0.0.0:5101", "", false, "api.listen"},
		{":5101", "", false, "api.listen"},
		{"[::]:5101", "", false, "api.listen"},
		{"192.168.1.2:5101", "", false, "api.listen"},
		{"node.example:5101", "", false, "api.listen"},
		{"127.0.0.1:5101", "0.0.0.0:9101", false, "api.metrics_listen"},
		{"0.0.0.0:5101", "[::]:9101", true, ""},
	} {
		cfg := config.Default()
		cfg.API.Listen, cfg.API.MetricsListen, cfg.API.AllowRemote = c.listen, c.metrics, c.allow
		err := cfg.Validate()
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("listen %q metrics %q allow %v: %v", c.listen, c.metrics, c.allow, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad+": ") || !strings.Contains(err.Error(), "api.allow_remote = true")):
			t.Errorf("listen %q metrics %q: error %v, want one naming %s and api.allow_remote", c.listen, c.metrics, err, c.bad)
		}
	}
}
