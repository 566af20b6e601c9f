package node

import (
	"github.com/libp2p/go-libp2p"

	"github.com/plexus-p2p/plexus/config"
)

// natHostOptions returns the libp2p options for NAT traversal.
func natHostOptions(cfg config.Config) []libp2p.Option {
	var opts []libp2p.Option
	if cfg.NAT.PortMapping {
		opts = append(opts, libp2p.NATPortMap())
	}
	return opts
}

// startNAT starts the node's NAT services after the host exists.
func (n *Node) startNAT() error { return nil }
