package config

import (
	"strings"
	"testing"
)

// The gateway is off by default and, like the API, stays on loopback
// unless api.allow_remote says otherwise.
func TestGatewayListen(t *testing.T) {
	c := Default()
	if c.Gateway.Listen != "" {
		t.Fatalf("gateway on by default: %q", c.Gateway.Listen)
	}
	for _, l := range []string{"127.0.0.1:8080", "[::1]:0", "localhost:8080"} {
		c.Gateway.Listen = l
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
	for l, msg := range map[string]string{"0.0.0.0:8080": "api.allow_remote", "8080": "not host:port", "192.0.2.1:80": "reachable beyond this machine"} {
		c.Gateway.Listen = l
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "gateway.listen") || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want an error naming gateway.listen and %q", l, err, msg)
		}
	}
	c.Gateway.Listen = "0.0.0.0:8080"
	c.API.AllowRemote = true
	if err := c.Validate(); err != nil {
		t.Errorf("with api.allow_remote: %v", err)
	}
}
