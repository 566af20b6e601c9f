package attack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dhtpb "github.com/libp2p/go-libp2p-kad-dht/pb"
	ps "github.com/libp2p/go-libp2p-pubsub"
	recpb "github.com/libp2p/go-libp2p-record/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"
	"github.com/multiformats/go-multihash"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/records"
	"github.com/plexus-p2p/plexus/routing"
)

// kadClient speaks the DHT protocol on one stream, as a hostile or a good
// peer does: requests and answers are varint-delimited protobufs.
type kadClient struct {
	h    host.Host
	p    peer.ID
	s    network.Stream
	w    pbio.WriteCloser
	r    pbio.ReadCloser
	cost *Cost
}

func (k *kadClient) open(ctx context.Context) error {
	if k.s != nil {
		k.s.Reset()
	}
	s, err := k.h.NewStream(ctx, k.p, routing.DefaultProtocol)
	if err != nil {
		k.s = nil
		return err
	}
	k.s = s
	var w io.Writer = s
	if k.cost != nil {
		w = countingStream{s, k.cost}
	}
	k.w, k.r = pbio.NewDelimitedWriter(w), pbio.NewDelimitedReader(s, 4<<20)
	return nil
}

// do sends m and, unless noAnswer, reads the answer (reopening the stream
// after an error on the next call).
func (k *kadClient) do(ctx context.Context, m *dhtpb.Message, noAnswer bool) (*dhtpb.Message, error) {
	if k.s == nil {
		if err := k.open(ctx); err != nil {
			return nil, err
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		k.s.SetDeadline(dl)
	} else {
		k.s.SetDeadline(time.Now().Add(10 * time.Second))
	}
	fail := func(err error) (*dhtpb.Message, error) {
		k.s.Reset()
		k.s = nil
		return nil, err
	}
	if err := k.w.WriteMsg(m); err != nil {
		return fail(err)
	}
	if noAnswer {
		return nil, nil
	}
	var resp dhtpb.Message
	if err := k.r.ReadMsg(&resp); err != nil {
		return fail(err)
	}
	return &resp, nil
}

func (k *kadClient) close() {
	if k.s != nil {
		k.s.Close()
		k.s = nil
	}
}

func putValue(key string, value []byte) *dhtpb.Message {
	return &dhtpb.Message{Type: dhtpb.Message_PUT_VALUE, Key: []byte(key), Record: &recpb.Record{Key: []byte(key), Value: value}}
}

// The most of one peer's DHT flood (row 5) that the target may keep, for
// each kind: its per-peer quotas (the target runs with the defaults). Value
// records and /pk/ records share one quota.
var floodQuota = map[string]int{
	"records":          config.DefaultDHTMaxRecordsPerPeer,
	"/pk/ records":     config.DefaultDHTMaxRecordsPerPeer,
	"provider records": config.DefaultDHTMaxProviderRecordsPerPeer,
}

// Row 5: records, public keys and provider records from one peer.
func dhtFlood(ctx context.Context, e *Env) (*Result, error) {
	t, err := e.Start(ctx, DaemonOpts{Name: "target"})
	if err != nil {
		return nil, err
	}
	hs, err := e.Hosts(3, true) // attacker, good peer, checker
	if err != nil {
		return nil, err
	}
	a, good, checker := hs[0], hs[1], hs[2]
	for _, h := range hs {
		if err := h.Connect(ctx, t.AddrInfo()); err != nil {
			return nil, err
		}
	}
	// The flood is cheap, so the quick run sends as much as the full one;
	// only the probing is shorter.
	nRec, nPK, nProv := 2000, 1000, 5000
	priv := a.Peerstore().PrivKey(a.ID())
	eol := time.Now().Add(24 * time.Hour)
	value := bytes.Repeat([]byte{'v'}, 16<<10)
	var recKeys []string
	var recVals [][]byte
	for i := range nRec {
		rec, err := records.NewRecord(priv, fmt.Sprintf("flood-%d", i), value, 1, eol)
		if err != nil {
			return nil, err
		}
		b, err := rec.Marshal()
		if err != nil {
			return nil, err
		}
		recKeys, recVals = append(recKeys, rec.Key), append(recVals, b)
	}
	var pkKeys []string
	var pkVals [][]byte
	for range nPK {
		_, pub, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			return nil, err
		}
		id, _ := peer.IDFromPublicKey(pub)
		b, _ := crypto.MarshalPublicKey(pub)
		pkKeys, pkVals = append(pkKeys, "/pk/"+string(id)), append(pkVals, b)
	}
	var provKeys [][]byte
	for i := range nProv {
		sum := sha256.Sum256(fmt.Appendf(nil, "flood-provide-%d-%s", i, a.ID()))
		mh, _ := multihash.Encode(sum[:], multihash.SHA2_256)
		provKeys = append(provKeys, mh)
	}
	self := &dhtpb.Message_Peer{Id: []byte(a.ID())}
	for _, addr := range a.Addrs() {
		self.Addrs = append(self.Addrs, addr.Bytes())
	}

	r := &Result{Cost: &Cost{Peers: 1}, MemBound: DefaultMemBound}
	sent := map[string]int{}
	var mu sync.Mutex
	// A good peer stores its own record and reads it back.
	gk := &kadClient{h: good, p: t.ID}
	gpriv := good.Peerstore().PrivKey(good.ID())
	var gn atomic.Int64
	probe := func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		rec, err := records.NewRecord(gpriv, fmt.Sprintf("good-%d", gn.Add(1)), []byte("good value"), 1, eol)
		if err != nil {
			return err
		}
		b, _ := rec.Marshal()
		if _, err := gk.do(ctx, putValue(rec.Key, b), false); err != nil {
			return fmt.Errorf("put: %w", err)
		}
		resp, err := gk.do(ctx, &dhtpb.Message{Type: dhtpb.Message_GET_VALUE, Key: []byte(rec.Key)}, false)
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		if resp.GetRecord() == nil || !bytes.Equal(resp.GetRecord().GetValue(), b) {
			return fmt.Errorf("get: the target does not have the good record")
		}
		return nil
	}
	e.runPhases(ctx, phases{target: t, probe: probe, interval: 300 * time.Millisecond,
		during: e.dur(20*time.Second, 8*time.Second), after: e.dur(5*time.Second, 2*time.Second),
		attack: func(ctx context.Context) {
			k := &kadClient{h: a, p: t.ID, cost: r.Cost}
			defer k.close()
			r.Cost.Conns.Store(1)
			send := func(kind string, m *dhtpb.Message, noAnswer bool) {
				if _, err := k.do(ctx, m, noAnswer); err == nil {
					sent[kind]++
				}
			}
			start := time.Now()
			for i := range recKeys {
				if ctx.Err() != nil {
					return
				}
				send("records", putValue(recKeys[i], recVals[i]), false)
			}
			for i := range pkKeys {
				if ctx.Err() != nil {
					return
				}
				send("/pk/ records", putValue(pkKeys[i], pkVals[i]), false)
			}
			for _, mh := range provKeys {
				if ctx.Err() != nil {
					return
				}
				send("provider records", &dhtpb.Message{Type: dhtpb.Message_ADD_PROVIDER, Key: mh, ProviderPeers: []*dhtpb.Message_Peer{self}}, true)
			}
			r.note("the flood took %s", time.Since(start).Round(100*time.Millisecond))
		}}, r)

	// What the target kept: a sample of each kind, asked by another peer.
	ck := &kadClient{h: checker, p: t.ID}
	defer ck.close()
	sample := func(n int) []int {
		idx := rand.Perm(n)
		return idx[:min(100, n)]
	}
	kept := func(kind string, n int, ask func(i int) bool) {
		s := sample(n)
		k := 0
		for _, i := range s {
			if ask(i) {
				k++
			}
		}
		est := k * n / len(s)
		accepted := sent[kind]
		// The estimate from a sample of 100 is within 3 standard errors
		// of what the target kept, bar 3 runs in 1,000.
		p := float64(k) / float64(len(s))
		slack := 3 * float64(n) * math.Sqrt(p*(1-p)/float64(len(s)))
		r.check(kind+" quota", float64(est)-slack <= float64(floodQuota[kind]),
			"kept about %d of %d %s (%d of a sample of %d; %d accepted on the wire; per-peer quota %d)",
			est, n, kind, k, len(s), accepted, floodQuota[kind])
	}
	qctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	kept("records", nRec, func(i int) bool {
		resp, err := ck.do(qctx, &dhtpb.Message{Type: dhtpb.Message_GET_VALUE, Key: []byte(recKeys[i])}, false)
		return err == nil && resp.GetRecord() != nil && bytes.Equal(resp.GetRecord().GetValue(), recVals[i])
	})
	kept("/pk/ records", nPK, func(i int) bool {
		resp, err := ck.do(qctx, &dhtpb.Message{Type: dhtpb.Message_GET_VALUE, Key: []byte(pkKeys[i])}, false)
		return err == nil && resp.GetRecord() != nil && bytes.Equal(resp.GetRecord().GetValue(), pkVals[i])
	})
	kept("provider records", nProv, func(i int) bool {
		resp, err := ck.do(qctx, &dhtpb.Message{Type: dhtpb.Message_GET_PROVIDERS, Key: provKeys[i]}, false)
		if err != nil {
			return false
		}
		for _, p := range resp.GetProviderPeers() {
			if peer.ID(p.GetId()) == a.ID() {
				return true
			}
		}
		return false
	})
	return r, nil
}

// Row 7: a pub/sub flood from one peer.
func pubsubFlood(ctx context.Context, e *Env) (*Result, error) {
	const topic = "attack-flood"
	opts := DaemonOpts{Name: "target"}
	if e.Quick {
		// The smoke run's flood may be slower than the default limit
		// (500/s and a burst of 200): one run under -race on a loaded
		// 2-core machine published 314/s. A lower limit still shows the
		// flood limited and its drops counted.
		opts.Set = [][2]string{{"pubsub.peer_rate_limit", "100"}, {"pubsub.peer_burst", "100"}}
	}
	t, err := e.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := t.Client.Join(ctx, topic); err != nil {
		return nil, err
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	sub, err := t.Client.Subscribe(sctx, topic)
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	hs, err := e.Hosts(2, true) // attacker, good publisher
	if err != nil {
		return nil, err
	}
	var topics []*ps.Topic
	for _, h := range hs {
		g, err := ps.NewGossipSub(sctx, h)
		if err != nil {
			return nil, err
		}
		tp, err := g.Join(topic)
		if err != nil {
			return nil, err
		}
		if s, err := tp.Subscribe(); err == nil { // be a subscriber, as a mesh peer is
			go func() {
				for {
					if _, err := s.Next(sctx); err != nil {
						return
					}
				}
			}()
		}
		topics = append(topics, tp)
		if err := h.Connect(ctx, t.AddrInfo()); err != nil {
			return nil, err
		}
	}
	// Wait until the target is in both hosts' view of the topic.
	for i := 0; i < 100 && ctx.Err() == nil; i++ {
		if len(topics[0].ListPeers()) > 0 && len(topics[1].ListPeers()) > 0 {
			break
		}
		sleep(ctx, 100*time.Millisecond)
	}
	// The target's subscriber: good messages by content, flood messages counted.
	var mu sync.Mutex
	waiting := map[string]chan struct{}{}
	var floodGot atomic.Int64
	go func() {
		for {
			var m wire.Message
			if err := sub.Next(&m); err != nil {
				return
			}
			if bytes.HasPrefix(m.Data, []byte("flood-")) {
				floodGot.Add(1)
				continue
			}
			mu.Lock()
			if ch, ok := waiting[string(m.Data)]; ok {
				close(ch)
				delete(waiting, string(m.Data))
			}
			mu.Unlock()
		}
	}()
	var gn atomic.Int64
	probe := func(ctx context.Context) error {
		data := fmt.Sprintf("good-%d", gn.Add(1))
		ch := make(chan struct{})
		mu.Lock()
		waiting[data] = ch
		mu.Unlock()
		defer func() { mu.Lock(); delete(waiting, data); mu.Unlock() }()
		if err := topics[1].Publish(ctx, []byte(data)); err != nil {
			return err
		}
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("good message not delivered to the target's subscriber within the timeout")
		}
	}
	n := e.size(20000, 4000)
	r := &Result{Cost: &Cost{Peers: 1}, MemBound: DefaultMemBound}
	if e.Quick {
		r.Scaled = fmt.Sprintf("%d messages (the issue: 20,000), against a peer_rate_limit of 100/s (default 500/s)", n)
	}
	sentN := 0
	var took time.Duration
	e.runPhases(ctx, phases{target: t, probe: probe, interval: 200 * time.Millisecond,
		during: e.dur(15*time.Second, 8*time.Second), after: e.dur(6*time.Second, 3*time.Second),
		attack: func(ctx context.Context) {
			r.Cost.Conns.Store(1)
			payload := bytes.Repeat([]byte{'f'}, 100)
			start := time.Now()
			for i := range n {
				if ctx.Err() != nil {
					break
				}
				msg := append(fmt.Appendf(nil, "flood-%d-", i), payload...)
				if err := topics[0].Publish(ctx, msg); err != nil {
					break
				}
				sentN++
				r.Cost.Bytes.Add(int64(len(msg) + 150)) // with the envelope: signature, key, seqno
			}
			took = time.Since(start)
		}}, r)
	rate := float64(sentN) / max(took.Seconds(), 0.001)
	r.note("flood: %d messages at %.0f/s; the target's subscriber got %d (%.0f%%)", sentN, rate, floodGot.Load(), 100*float64(floodGot.Load())/max(float64(sentN), 1))
	scores := "not served"
	sctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	var raw any
	if err := t.Client.Do(sctx2, "GET", "/v1/pubsub/scores", nil, &raw); err == nil {
		scores = fmt.Sprintf("%v", raw)
	}
	cancel()
	r.note("GET /v1/pubsub/scores after the flood: %.300s", scores)
	dropped, found := metricSum(ctx, t, "plexus_pubsub_messages_dropped_total")
	r.check("drops counted", dropped > 0, "plexus_pubsub_messages_dropped_total on /metrics: %s",
		map[bool]string{true: fmt.Sprintf("%.0f", dropped), false: "absent"}[found])
	return r, nil
}

// Row 9: a third of the DHT is killed; a survivor keeps looking up keys.
func killedDHTPeers(ctx context.Context, e *Env) (*Result, error) {
	n, kill := e.size(12, 6), e.size(4, 2)
	ds := make([]*Daemon, 0, n)
	for i := range n {
		d, err := e.Start(ctx, DaemonOpts{Name: fmt.Sprintf("dht%d", i)})
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	hub := ds[0]
	for _, d := range ds[1:] {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := d.Client.Connect(cctx, hub.TCPAddr())
		cancel()
		if err != nil {
			return nil, err
		}
	}
	// Let every routing table fill: each node looks up a key.
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			d.Client.ClosestPeers(cctx, "warm-up-"+d.Name)
			cancel()
		})
	}
	wg.Wait()
	t := ds[1]
	const slow = 5 * time.Second
	var mu sync.Mutex
	var took []time.Duration
	var kn atomic.Int64
	probe := func(ctx context.Context) error {
		start := time.Now()
		_, err := t.Client.ClosestPeers(ctx, fmt.Sprintf("key-%d", kn.Add(1)))
		d := time.Since(start)
		mu.Lock()
		took = append(took, d)
		mu.Unlock()
		if err != nil {
			return err
		}
		if d > slow {
			return fmt.Errorf("lookup took %s", d.Round(100*time.Millisecond))
		}
		return nil
	}
	r := &Result{Cost: &Cost{Peers: kill}, MemBound: DefaultMemBound,
		Scaled: fmt.Sprintf("%d of %d daemons killed (the issue: 6 of 20)", kill, n)}
	e.runPhases(ctx, phases{target: t, probe: probe, interval: 100 * time.Millisecond, timeout: 30 * time.Second,
		during: e.dur(40*time.Second, 12*time.Second), after: e.dur(20*time.Second, 10*time.Second),
		attack: func(ctx context.Context) {
			// Kill daemons that are not the survivor or the hub.
			for _, d := range ds[len(ds)-kill:] {
				d.Kill()
			}
			mu.Lock()
			took = took[:0]
			mu.Unlock()
		}}, r)
	mu.Lock()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	if len(took) > 0 {
		r.note("lookups after the kill (%d): median %s, max %s; a lookup counts as failed above %s",
			len(took), took[len(took)/2].Round(10*time.Millisecond), took[len(took)-1].Round(10*time.Millisecond), slow)
	}
	mu.Unlock()
	return r, nil
}

// Row 10: send to a peer that restarted on new addresses. Both ends
// restart (each on new ports), the receiver first, so neither can reach the
// other on the addresses it saved; only the hub keeps its addresses and
// learns the receiver's new ones. The sender sends as soon as it has
// rejoined the hub.
func sendAfterRestart(ctx context.Context, e *Env) (*Result, error) {
	hub, err := e.Start(ctx, DaemonOpts{Name: "hub"})
	if err != nil {
		return nil, err
	}
	sender, err := e.Start(ctx, DaemonOpts{Name: "sender"})
	if err != nil {
		return nil, err
	}
	recv, err := e.Start(ctx, DaemonOpts{Name: "receiver"})
	if err != nil {
		return nil, err
	}
	url := e.EchoServer()
	for _, pair := range [][2]*Daemon{{sender, hub}, {recv, hub}, {sender, recv}} {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := pair[0].Client.Connect(cctx, pair[1].TCPAddr())
		cancel()
		if err != nil {
			return nil, err
		}
	}
	sleep(ctx, 2*time.Second) // known peers are saved within a second
	rounds := e.size(6, 5)
	r := &Result{Cost: &Cost{}, MemBound: DefaultMemBound}
	s := Sample(sender)
	var errs []string
	for i := range rounds {
		sender.Stop()
		recv.Stop()
		if err := recv.Restart(ctx); err != nil {
			return nil, err
		}
		if err := recv.AddEcho(ctx, url); err != nil {
			return nil, err
		}
		if err := sender.Restart(ctx); err != nil {
			return nil, err
		}
		// The sender is back in the network (it rejoined the hub) before it
		// sends: only the receiver's addresses are stale.
		for i := 0; i < 40 && connectedTo(ctx, sender, []*Daemon{hub}) == 0; i++ {
			sleep(ctx, 250*time.Millisecond)
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := sender.Client.Send(cctx, recv.ID.String(), EchoProtocol, fmt.Appendf(nil, "after restart %d", i))
		cancel()
		r.During.N++
		if err == nil {
			r.During.OK++
		} else {
			errs = append(errs, err.Error())
		}
	}
	r.Peak, r.MetricsMisses = s.Stop()
	r.Probed = true
	if len(errs) > 0 {
		r.note("failed send: %.200s", strings.Join(strings.Fields(errs[0]), " "))
	}
	r.note("the receiver's handler is registered again after each restart unless it was kept (row 11)")
	return r, nil
}

// Row 11: a restart with an HTTP handler registered.
func restartWithHandlers(ctx context.Context, e *Env) (*Result, error) {
	t, good, err := e.echoTarget(ctx, DaemonOpts{})
	if err != nil {
		return nil, err
	}
	s := Sample(t)
	t.Stop()
	p1, _ := s.Stop()
	if err := t.Restart(ctx); err != nil {
		return nil, err
	}
	s = Sample(t)
	defer s.Stop()
	r := &Result{Cost: &Cost{}, MemBound: DefaultMemBound}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	hs, err := t.Client.Handlers(cctx)
	if err != nil {
		return nil, err
	}
	kept := false
	for _, h := range hs {
		if h.Protocol == EchoProtocol {
			kept = true
		}
	}
	r.check("registration kept", kept, "%d handlers after the restart, %s among them: %v", len(hs), EchoProtocol, kept)
	err = SendProbe(good, t.AddrInfo())(cctx)
	r.After = Rate{N: 1}
	if err == nil {
		r.After.OK = 1
	}
	p2, misses := s.Stop()
	r.Peak = Usage{RSS: max(p1.RSS, p2.RSS), FDs: max(p1.FDs, p2.FDs), Goroutines: max(p1.Goroutines, p2.Goroutines)}
	r.MetricsMisses = misses
	r.check("requests after restart", err == nil, "a peer's request to %s after the restart: %v", EchoProtocol, errString(err))
	return r, nil
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// metricSum adds the values of every series of the metric name on d's
// /metrics, and says whether there was one.
func metricSum(ctx context.Context, d *Daemon, name string) (float64, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	text, err := d.Client.Metrics(ctx)
	if err != nil {
		return 0, false
	}
	sum, found := 0.0, false
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
			if len(f) > 0 {
				if v, err := strconv.ParseFloat(f[0], 64); err == nil {
					sum, found = sum+v, true
				}
			}
		}
	}
	return sum, found
}
