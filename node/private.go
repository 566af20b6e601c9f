package node

import (
	"errors"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/pnet"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/swarmkey"
)

// ErrPrivateNetwork wraps a failed dial that a private node can explain:
// the peer does not share its swarm key.
var ErrPrivateNetwork = errors.New("not in the same private network")

// PrivateNetwork describes the node's private network (Info.Private).
type PrivateNetwork struct {
	// Enabled is true when the node has a swarm key (Config.PSK): it talks
	// only to nodes with the same key.
	Enabled bool
	// Fingerprint names the key without revealing it
	// (swarmkey.Fingerprint); "" when not private.
	Fingerprint string
	// DisabledTransports are the configured transports the node turned off
	// because go-libp2p's private networks do not support them: of
	// "quic-v1", "webtransport", "webrtc-direct".
	DisabledTransports []string
}

// privateTransportsText says which transports a private network uses, for
// logs, errors and the doctor.
const privateTransportsText = "go-libp2p private networks work over TCP and WebSocket only (not QUIC, WebTransport or WebRTC-direct)"

// applyPSK checks the key and turns off, in c, the transports go-libp2p's
// private networks refuse to run with (its QUIC, WebTransport and WebRTC
// constructors fail when given a key).
func applyPSK(psk pnet.PSK, c *config.Config) (PrivateNetwork, error) {
	if psk == nil {
		if pnet.ForcePrivateNetwork {
			return PrivateNetwork{}, fmt.Errorf("%s=1 requires a private network and this node has no swarm key: create one with \"plexus swarm-key new\" or import the network's with \"plexus swarm-key import\"", pnet.EnvKey)
		}
		return PrivateNetwork{}, nil
	}
	if len(psk) != swarmkey.Size {
		return PrivateNetwork{}, fmt.Errorf("Config.PSK is %d bytes, want %d", len(psk), swarmkey.Size)
	}
	pn := PrivateNetwork{Enabled: true, Fingerprint: swarmkey.Fingerprint(psk), DisabledTransports: []string{}}
	t := &c.Transports
	for _, off := range []struct {
		on   *bool
		name string
	}{{&t.QUIC, "quic-v1"}, {&t.WebTransport, "webtransport"}, {&t.WebRTCDirect, "webrtc-direct"}} {
		if *off.on {
			*off.on = false
			pn.DisabledTransports = append(pn.DisabledTransports, off.name)
		}
	}
	if !t.TCP && !t.WebSocket {
		return pn, fmt.Errorf("private network (swarm key %s): transports.tcp and transports.websocket are both off, and %s; turn one of them on", pn.Fingerprint, privateTransportsText)
	}
	if len(c.UsableListen()) == 0 {
		return pn, fmt.Errorf("private network (swarm key %s): none of network.listen %v is a TCP or WebSocket address, and %s; add one such as /ip4/0.0.0.0/tcp/%d",
			pn.Fingerprint, c.Network.Listen, privateTransportsText, config.DefaultTCPPort)
	}
	return pn, nil
}

// logPrivate says at start that the node is private and what that turns off.
func (n *Node) logPrivate() {
	p := n.private
	if !p.Enabled {
		return
	}
	n.log.Info("private network: only nodes with the same swarm key can connect; "+privateTransportsText,
		"swarm_key", p.Fingerprint, "transports_off", p.DisabledTransports)
}

// Private describes the node's private network.
func (n *Node) Private() PrivateNetwork {
	p := n.private
	p.DisabledTransports = slices.Clone(p.DisabledTransports)
	return p
}
