package auth

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// limits configure a limiter.
type limits struct {
	free    int           // failures without a wait
	base    time.Duration // wait after the first failure beyond free; doubles with each further one
	max     time.Duration // longest wait
	forget  time.Duration // a key with no failure for this long starts afresh
	entries int           // keys tracked at most
}

// loginLimits: 5 free failures, then 1s, 2s, 4s, ... up to 15 minutes;
// forgotten a day after the last failure; at most 10,000 keys (about 1 MB).
var loginLimits = limits{free: 5, base: time.Second, max: 15 * time.Minute, forget: 24 * time.Hour, entries: 10000}

// limiter counts failures per key and answers how long a key must wait.
// Its memory is bounded: when full, it forgets keys whose failures are
// forgotten anyway, then the key with the fewest failures (the oldest of
// those), so that a flood of new keys (many addresses, many names) cannot
// push out the keys under attack, which have the most failures.
type limiter struct {
	lim limits
	mu  sync.Mutex
	m   map[string]*strikes
}

type strikes struct {
	failures int
	last     time.Time // the last failure
	until    time.Time // no attempt before this
}

func newLimiter(l limits) *limiter { return &limiter{lim: l, m: map[string]*strikes{}} }

// wait returns how long key must still wait at now (0: it may try).
func (l *limiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.m[key]; st != nil && st.until.After(now) {
		return st.until.Sub(now)
	}
	return 0
}

// fail records a failure of key at now and returns the wait it now has.
func (l *limiter) fail(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.m[key]
	if st != nil && now.Sub(st.last) >= l.lim.forget && !st.until.After(now) {
		st = nil // forgotten
	}
	if st == nil {
		if len(l.m) >= l.lim.entries {
			l.evict(now)
		}
		st = &strikes{}
		l.m[key] = st
	}
	st.failures++
	st.last = now
	if over := st.failures - l.lim.free; over > 0 {
		d := l.lim.max
		if over <= 30 && l.lim.base<<(over-1) < l.lim.max {
			d = l.lim.base << (over - 1)
		}
		st.until = now.Add(d)
		return d
	}
	return 0
}

// reset forgets key (after a success).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// len returns the number of keys tracked.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// evict makes room for one key. The caller holds l.mu.
func (l *limiter) evict(now time.Time) {
	var victim string
	var vs *strikes
	for k, st := range l.m {
		if now.Sub(st.last) >= l.lim.forget && !st.until.After(now) {
			delete(l.m, k)
			continue
		}
		if vs == nil || st.failures < vs.failures || (st.failures == vs.failures && st.last.Before(vs.last)) {
			victim, vs = k, st
		}
	}
	if len(l.m) >= l.lim.entries && vs != nil {
		delete(l.m, victim)
	}
}

// clientKey is the limiter key of a client address ("host:port" or a
// host): the IPv4 address, or the /64 prefix of an IPv6 address (one
// subscriber usually holds a whole /64).
func clientKey(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if len(host) > 64 {
			host = host[:64]
		}
		return "?" + host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
