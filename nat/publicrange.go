package nat

import (
	"fmt"
	"net"

	manet "github.com/multiformats/go-multiaddr/net"
)

// treatAsPublic makes go-libp2p consider addresses in cidr public, by
// removing the range from go-multiaddr's private ranges
// (manet.Private4/Private6). go-libp2p hole-punches, runs AutoNAT and keeps
// relay addresses only for public addresses, so a lab whose "internet" is a
// private range needs this. It changes process-wide state and exists for
// tests only: the natlab build tag (PLEXUS_NATLAB_PUBLIC) and this package's
// tests call it before any host starts.
func treatAsPublic(cidr string) error {
	_, c, err := net.ParseCIDR(cidr)
	if err != nil {
		return fmt.Errorf("public range %q: %w", cidr, err)
	}
	if c.IP.To4() != nil {
		manet.Private4 = subtract(manet.Private4, c)
	} else {
		manet.Private6 = subtract(manet.Private6, c)
	}
	return nil
}

// subtract returns the networks of list minus c, splitting networks that
// contain c.
func subtract(list []*net.IPNet, c *net.IPNet) []*net.IPNet {
	var out []*net.IPNet
	for _, n := range list {
		out = append(out, minus(n, c)...)
	}
	return out
}

func minus(n, c *net.IPNet) []*net.IPNet {
	nOnes, bits := n.Mask.Size()
	cOnes, cBits := c.Mask.Size()
	if bits != cBits {
		return []*net.IPNet{n}
	}
	switch {
	case cOnes <= nOnes && c.Contains(n.IP): // n inside c
		return nil
	case cOnes > nOnes && n.Contains(c.IP): // c inside n: split n in halves
		lo := &net.IPNet{IP: n.IP.Mask(n.Mask), Mask: net.CIDRMask(nOnes+1, bits)}
		hiIP := make(net.IP, len(lo.IP))
		copy(hiIP, lo.IP)
		hiIP[nOnes/8] |= 0x80 >> (nOnes % 8)
		hi := &net.IPNet{IP: hiIP, Mask: lo.Mask}
		return append(minus(lo, c), minus(hi, c)...)
	}
	return []*net.IPNet{n}
}
