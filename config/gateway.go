package config

import (
	"fmt"
	"net"
)

// Gateway configures the IPFS trustless gateway listener: content-addressed
// blocks and CARs (/ipfs/{cid}?format=raw and ?format=car, per the IPFS
// trustless gateway spec) served from the node's blocks without a token,
// so that IPFS tools can fetch from the node.
type Gateway struct {
	Listen string `toml:"listen" comment:"Address (host:port) of the trustless gateway, served without a token. Empty: off. Only loopback addresses unless api.allow_remote = true. Default \"\" (off)."`
}

func (c *Config) validateGateway() []error {
	l := c.Gateway.Listen
	if l == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(l); err != nil {
		return []error{fmt.Errorf("gateway.listen: %q is not host:port: %w", l, err)}
	}
	if !c.API.AllowRemote && !IsLoopbackHostPort(l) {
		return []error{fmt.Errorf("gateway.listen: %q is reachable beyond this machine; set api.allow_remote = true "+
			"(plexus daemon --api-allow-remote) to serve the gateway on other interfaces", l)}
	}
	return nil
}
