package natlab

// Latency without netem: the kernel here has no sch_netem (tc answers
// "Specified qdisc kind is unknown"), so the lab delays packets in user
// space. Each namespace on the lab internet gets an iptables-legacy NFQUEUE
// rule (this kernel has xt_NFQUEUE but not nftables' queue expression) that
// hands its internet packets to queue 0 (routers: every forwarded packet,
// both directions; public hosts: packets in and out of "wan"), and a
// goroutine of the test process, holding a netfilter netlink socket opened
// inside that namespace, gives each packet back (NF_ACCEPT) once it has
// waited the lab's per-hop delay. The delay is constant, so packets leave in
// the order they came (no reordering) and none is dropped by the delay
// itself. A path crosses two hops per direction (the sender's router or
// host, the receiver's): at 25 ms per hop, a direct round trip between two
// NATed hosts is 100 ms and one through a relay 200 ms, the figures of
// issue 19. The cost: two netlink messages per packet and the Go timer's
// granularity (about 1 ms, more when the machine is loaded).

import (
	"context"
	bo "encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Netfilter netlink constants (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue     = 3
	nfqnlMsgPacket      = 0
	nfqnlMsgVerdict     = 1
	nfqnlMsgConfig      = 2
	nfqaCfgCmd          = 1
	nfqaCfgParams       = 2
	nfqaCfgQueueMaxLen  = 3
	nfqaPacketHdr       = 1
	nfqaVerdictHdr      = 2
	nfqnlCfgCmdBind     = 1
	nfqnlCopyMeta       = 1
	nfAccept            = 1
	delayQueueNum       = 0
	delayQueueMaxLen    = 16384
	delayRecvBufBytes   = 8 << 20
	netlinkNoENOBUFS    = 5
	nlmsgHdrLen         = 16
	nfgenHdrLen         = 4
	delayPendingPackets = 65536
	delayRecvTimeout    = 200 * time.Millisecond
)

// SetLatency makes every packet crossing a namespace on the lab internet
// wait d there (see above). Call it before adding hosts; 0 means none.
func (l *Lab) SetLatency(ctx context.Context, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.namespaces) > 1 {
		return errors.New("natlab: set the latency before adding hosts")
	}
	if d < 0 || d > time.Second {
		return fmt.Errorf("natlab: latency %s is outside 0..1s", d)
	}
	l.latency = d
	return nil
}

// Latency is the per-hop delay.
func (l *Lab) Latency() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latency
}

// delayRules returns the iptables-legacy rules that queue a namespace's
// internet packets for its delayer. They live in the mangle table, which
// SetNAT's "flush ruleset" (nftables) leaves alone, and run before the
// routers' nftables filter, which sees the packets once they are given back.
func delayRules(router bool) [][]string {
	q := []string{"-j", "NFQUEUE", "--queue-num", fmt.Sprint(delayQueueNum)}
	if router {
		return [][]string{append([]string{"-t", "mangle", "-A", "FORWARD"}, q...)}
	}
	return [][]string{
		append([]string{"-t", "mangle", "-A", "INPUT", "-i", "wan"}, q...),
		append([]string{"-t", "mangle", "-A", "OUTPUT", "-o", "wan"}, q...),
	}
}

// addDelay starts the delayer of namespace ns, then its queue rules.
func (l *Lab) addDelay(ctx context.Context, ns string, router bool) error {
	d := l.Latency()
	if d == 0 {
		return nil
	}
	if _, err := exec.LookPath("iptables-legacy"); err != nil {
		return errors.New("natlab: latency needs iptables-legacy (the kernel has no nft queue expression; install the iptables package, scripts/install-deps.sh does)")
	}
	dl, err := startDelayer(ns, d)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.delayers = append(l.delayers, dl)
	l.mu.Unlock()
	for _, r := range delayRules(router) {
		if err := l.run(ctx, append([]string{"ip", "netns", "exec", ns, "iptables-legacy"}, r...)...); err != nil {
			return err
		}
	}
	return nil
}

// stopDelayers stops every delayer (before the namespaces go).
func (l *Lab) stopDelayers() {
	l.mu.Lock()
	ds := l.delayers
	l.delayers = nil
	l.mu.Unlock()
	for _, d := range ds {
		d.close()
	}
}

// delayer holds the packets of one namespace's queue for a fixed delay.
type delayer struct {
	fd      int
	delay   time.Duration
	pending chan pendingPacket
	wg      sync.WaitGroup
	once    sync.Once
	closed  atomic.Bool
}

type pendingPacket struct {
	id  uint32
	due time.Time
}

// startDelayer binds queue delayQueueNum in namespace ns.
func startDelayer(ns string, delay time.Duration) (*delayer, error) {
	fd := -1
	err := InNetns(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netfilter netlink socket in %s: %w", ns, err)
	}
	fail := func(err error) (*delayer, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("NFQUEUE delay in %s: %w", ns, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail(err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, delayRecvBufBytes)
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, netlinkNoENOBUFS, 1)
	tv := unix.NsecToTimeval(delayRecvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail(err)
	}
	cmd := make([]byte, 4)
	cmd[0] = nfqnlCfgCmdBind
	params := make([]byte, 5)
	bo.BigEndian.PutUint32(params, 0xffff)
	params[4] = nfqnlCopyMeta
	maxLen := bo.BigEndian.AppendUint32(nil, delayQueueMaxLen)
	for _, a := range []struct {
		typ  uint16
		data []byte
	}{{nfqaCfgCmd, cmd}, {nfqaCfgParams, params}, {nfqaCfgQueueMaxLen, maxLen}} {
		msg := nfqMessage(nfqnlMsgConfig, unix.NLM_F_REQUEST|unix.NLM_F_ACK, attr(a.typ, a.data))
		if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fail(err)
		}
		if err := readAck(fd); err != nil {
			return fail(fmt.Errorf("config attribute %d: %w", a.typ, err))
		}
	}
	d := &delayer{fd: fd, delay: delay, pending: make(chan pendingPacket, delayPendingPackets)}
	d.wg.Add(2)
	go d.receive()
	go d.release()
	return d, nil
}

// nfqMessage builds a netlink message of the queue subsystem for queue delayQueueNum.
func nfqMessage(typ uint16, flags uint16, attrs ...[]byte) []byte {
	n := nlmsgHdrLen + nfgenHdrLen
	for _, a := range attrs {
		n += len(a)
	}
	b := make([]byte, 0, n)
	b = bo.NativeEndian.AppendUint32(b, uint32(n))
	b = bo.NativeEndian.AppendUint16(b, nfnlSubsysQueue<<8|typ)
	b = bo.NativeEndian.AppendUint16(b, flags)
	b = bo.NativeEndian.AppendUint32(b, 0) // seq
	b = bo.NativeEndian.AppendUint32(b, 0) // port id: the kernel's
	b = append(b, unix.AF_UNSPEC, 0)       // nfgenmsg: family, version
	b = bo.BigEndian.AppendUint16(b, delayQueueNum)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

// attr builds a netlink attribute, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	l := 4 + len(data)
	b := make([]byte, 0, (l+3)&^3)
	b = bo.NativeEndian.AppendUint16(b, uint16(l))
	b = bo.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// readAck reads the kernel's answer to a request sent with NLM_F_ACK.
func readAck(fd int) error {
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	if n < nlmsgHdrLen+4 || bo.NativeEndian.Uint16(buf[4:6]) != unix.NLMSG_ERROR {
		return errors.New("no netlink acknowledgement")
	}
	if code := int32(bo.NativeEndian.Uint32(buf[nlmsgHdrLen:])); code != 0 {
		return unix.Errno(-code)
	}
	return nil
}

// receive reads queued packets and schedules their release.
func (d *delayer) receive() {
	defer d.wg.Done()
	defer close(d.pending)
	buf := make([]byte, 1<<16)
	for {
		if d.closed.Load() {
			return
		}
		n, _, err := unix.Recvfrom(d.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
				continue // EAGAIN: the receive timeout, to check closed
			}
			return
		}
		now := time.Now()
		for b := buf[:n]; len(b) >= nlmsgHdrLen; {
			l := int(bo.NativeEndian.Uint32(b[0:4]))
			if l < nlmsgHdrLen || l > len(b) {
				break
			}
			msg := b[:l]
			b = b[min((l+3)&^3, len(b)):]
			if bo.NativeEndian.Uint16(msg[4:6]) != nfnlSubsysQueue<<8|nfqnlMsgPacket {
				continue
			}
			id, ok := packetID(msg[nlmsgHdrLen+nfgenHdrLen:])
			if !ok {
				continue
			}
			select {
			case d.pending <- pendingPacket{id: id, due: now.Add(d.delay)}:
			default:
				// Full (65536 packets in flight): let it through at
				// once rather than hold the kernel's queue.
				d.verdict(id)
			}
		}
	}
}

// packetID finds NFQA_PACKET_HDR's packet id among a message's attributes.
func packetID(attrs []byte) (uint32, bool) {
	for len(attrs) >= 4 {
		l := int(bo.NativeEndian.Uint16(attrs[0:2]))
		typ := bo.NativeEndian.Uint16(attrs[2:4]) & 0x3fff
		if l < 4 || l > len(attrs) {
			return 0, false
		}
		if typ == nfqaPacketHdr && l >= 8 {
			return bo.BigEndian.Uint32(attrs[4:8]), true
		}
		next := (l + 3) &^ 3
		if next > len(attrs) {
			return 0, false
		}
		attrs = attrs[next:]
	}
	return 0, false
}

// release gives each packet back once it is due.
func (d *delayer) release() {
	defer d.wg.Done()
	for p := range d.pending {
		if wait := time.Until(p.due); wait > 0 {
			time.Sleep(wait)
		}
		d.verdict(p.id)
	}
}

// verdict accepts packet id.
func (d *delayer) verdict(id uint32) {
	v := make([]byte, 8)
	bo.BigEndian.PutUint32(v[0:4], nfAccept)
	bo.BigEndian.PutUint32(v[4:8], id)
	unix.Sendto(d.fd, nfqMessage(nfqnlMsgVerdict, unix.NLM_F_REQUEST, attr(nfqaVerdictHdr, v)), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// close stops the delayer; packets still queued are dropped with the socket.
func (d *delayer) close() {
	d.once.Do(func() {
		d.closed.Store(true)
		d.wg.Wait() // receive notices within delayRecvTimeout
		unix.Close(d.fd)
	})
}
