package sim

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/pubsub"
)

// The kinds of misbehaving gossip nodes.
const (
	// BadDrop nodes join the topic and its meshes but neither deliver nor
	// forward any message (a default validator answers ValidationIgnore).
	BadDrop = "drop"
	// BadSpam nodes forward as usual and also publish unsigned messages
	// (signature policy LaxNoSign), which the others' StrictSign rejects as
	// invalid, costing the sender score.
	BadSpam = "spam"
)

// GossipOptions sizes a gossip run.
type GossipOptions struct {
	Nodes    int
	Degree   int           // connections each node dials at start
	Messages int           // messages published by random honest nodes
	Interval time.Duration // between two publishes
	Warmup   time.Duration // after subscribing, before the first publish
	Drain    time.Duration // longest wait after the last publish
	Bad      float64       // share of misbehaving nodes
	BadKind  string        // BadDrop or BadSpam
	SpamRate int           // messages per second per spamming node
	Size     int           // payload bytes
	Net      Config
	Seed     uint64
	Logf     func(format string, args ...any)
}

// GossipResult is a whole gossip run.
type GossipResult struct {
	Nodes, Honest, Bad int
	BadKind            string
	Messages           int
	// Delivery is the share of (message, honest node other than the
	// author) pairs delivered to the node's subscription.
	Delivery float64
	// AllReached is the share of messages that reached every honest node.
	AllReached         float64
	ToAllP50, ToAllP99 time.Duration // time from publish to the last honest node, messages that reached all
	LatP50, LatP99     time.Duration // per delivery
	// DupPerDelivery is the duplicate copies an honest node received per
	// message delivered to it (gossipsub's DuplicateMessage / DeliverMessage).
	DupPerDelivery float64
	// Rejected is the messages honest nodes rejected as invalid, per honest node.
	Rejected float64
	// Pubsub bytes sent per honest node per second of the measured window,
	// and per message.
	BytesPerSec, BytesPerMsg float64
	Links                    int64
	Build, Wall              time.Duration
}

// gossipTracer counts what gossipsub reports on one node.
type gossipTracer struct {
	deliver, dup, reject atomic.Int64
}

func (t *gossipTracer) DeliverMessage(*ps.Message)                       { t.deliver.Add(1) }
func (t *gossipTracer) DuplicateMessage(*ps.Message)                     { t.dup.Add(1) }
func (t *gossipTracer) RejectMessage(*ps.Message, string)                { t.reject.Add(1) }
func (t *gossipTracer) OnNewOutboundStream(peer.ID, protocol.ID)         {}
func (t *gossipTracer) OnClosedOutboundStream(peer.ID)                   {}
func (t *gossipTracer) Join(string)                                      {}
func (t *gossipTracer) Leave(string)                                     {}
func (t *gossipTracer) Graft(peer.ID, string)                            {}
func (t *gossipTracer) Prune(peer.ID, string)                            {}
func (t *gossipTracer) ValidateMessage(*ps.Message)                      {}
func (t *gossipTracer) ThrottlePeer(peer.ID)                             {}
func (t *gossipTracer) RecvRPC(*ps.RPC)                                  {}
func (t *gossipTracer) SendRPC(*ps.RPC, peer.ID)                         {}
func (t *gossipTracer) DropRPC(*ps.RPC, peer.ID)                         {}
func (t *gossipTracer) UndeliverableMessage(*ps.Message)                 {}
func (t *gossipTracer) SendRPCCompleted(*ps.RPC, peer.ID, time.Duration) {}

type gossipNode struct {
	h   *Host
	svc *pubsub.Service
	tr  *gossipTracer
	bad bool
	sub *pubsub.Subscription
}

const gossipTopic = "sim"

// newGossipNode starts the pubsub service on a new host with a node's
// options from config.Default() (pubsub.FromConfig).
func newGossipNode(ctx context.Context, n *Net, bad string) (*gossipNode, error) {
	h, err := n.AddHost(nil)
	if err != nil {
		return nil, err
	}
	ping.NewPingService(h) // a node serves ping; the mesh latency preference uses it
	c := config.Default().PubSub
	tr := &gossipTracer{}
	extra := []ps.Option{ps.WithRawTracer(tr)}
	switch bad {
	case BadDrop:
		extra = append(extra, ps.WithDefaultValidator(func(context.Context, peer.ID, *ps.Message) ps.ValidationResult {
			return ps.ValidationIgnore
		}))
	case BadSpam:
		extra = append(extra, ps.WithMessageSignaturePolicy(ps.LaxNoSign))
	}
	svc, err := pubsub.New(ctx, h, append(pubsub.FromConfig(c),
		pubsub.WithLogger(quiet),
		pubsub.WithPubSubOptions(extra...),
	)...)
	if err != nil {
		_ = n.Remove(h)
		return nil, err
	}
	return &gossipNode{h: h, svc: svc, tr: tr, bad: bad != ""}, nil
}

// RunGossip builds o.Nodes pubsub nodes, each dialling o.Degree random
// others, subscribes them all to one topic and publishes o.Messages
// messages from random honest nodes, measuring who gets them and when.
func RunGossip(ctx context.Context, o GossipOptions) (GossipResult, error) {
	start := time.Now()
	res := GossipResult{Nodes: o.Nodes, BadKind: o.BadKind, Messages: o.Messages}
	if o.Degree <= 0 {
		o.Degree = 8
	}
	if o.Size < 16 {
		o.Size = 16
	}
	net, err := New(o.Net)
	if err != nil {
		return res, err
	}
	r := rand.New(rand.NewPCG(o.Seed, 7))
	nbad := int(o.Bad * float64(o.Nodes))
	nodes := make([]*gossipNode, 0, o.Nodes)
	defer func() {
		parallel(len(nodes), 4, func(i int) { _ = nodes[i].svc.Close() })
		_ = net.Close()
	}()
	for i := range o.Nodes {
		kind := ""
		if i < nbad {
			kind = o.BadKind
		}
		nd, err := newGossipNode(ctx, net, kind)
		if err != nil {
			return res, err
		}
		nodes = append(nodes, nd)
	}
	r.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	var honest []int
	for i, nd := range nodes {
		if !nd.bad {
			honest = append(honest, i)
		}
	}
	res.Honest, res.Bad = len(honest), nbad
	idx := map[peer.ID]int{}
	for i, nd := range nodes {
		idx[nd.h.ID()] = i
	}

	// recv[m][i]: when node i got message m (0: not yet).
	recv := make([][]atomic.Int64, o.Messages)
	for m := range recv {
		recv[m] = make([]atomic.Int64, len(nodes))
	}
	pubAt := make([]atomic.Int64, o.Messages)
	var readers sync.WaitGroup
	for i, nd := range nodes {
		sub, err := nd.svc.Subscribe(gossipTopic, 1024)
		if err != nil {
			return res, err
		}
		nd.sub = sub
		readers.Add(1)
		go func() {
			defer readers.Done()
			for msg := range sub.C() {
				if len(msg.Data) < 4 || msg.Data[0] != 'M' {
					continue
				}
				m := int(binary.BigEndian.Uint32(msg.Data[0:4]) & 0xffffff)
				if m < o.Messages {
					recv[m][i].CompareAndSwap(0, msg.ReceivedAt.UnixNano())
				}
			}
		}()
	}
	dials := make([][]int, len(nodes))
	for i := range dials {
		for range o.Degree {
			j := r.IntN(len(nodes))
			if j != i {
				dials[i] = append(dials[i], j)
			}
		}
	}
	parallel(len(nodes), 128, func(i int) {
		for _, j := range dials[i] {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_ = nodes[i].h.Connect(cctx, peer.AddrInfo{ID: nodes[j].h.ID(), Addrs: nodes[j].h.Addrs()})
			cancel()
		}
	})
	res.Build = time.Since(start)
	if o.Logf != nil {
		o.Logf("gossip: %d nodes (%d %s) connected in %s", o.Nodes, nbad, o.BadKind, res.Build.Round(time.Millisecond))
	}
	select {
	case <-time.After(o.Warmup):
	case <-ctx.Done():
		return res, ctx.Err()
	}

	// The measured window.
	var sent0 int64
	var base [3]int64
	for _, i := range honest {
		sent0 += nodes[i].h.Sent(ClassPubSub)
		base[0] += nodes[i].tr.deliver.Load()
		base[1] += nodes[i].tr.dup.Load()
		base[2] += nodes[i].tr.reject.Load()
	}
	window := time.Now()
	stopSpam := make(chan struct{})
	var spam sync.WaitGroup
	if o.BadKind == BadSpam && o.SpamRate > 0 {
		for _, nd := range nodes {
			if !nd.bad {
				continue
			}
			spam.Add(1)
			go func() {
				defer spam.Done()
				t := time.NewTicker(time.Second / time.Duration(o.SpamRate))
				defer t.Stop()
				payload := make([]byte, o.Size)
				copy(payload, "SPAM")
				for {
					select {
					case <-stopSpam:
						return
					case <-t.C:
						_, _ = nd.svc.Publish(ctx, gossipTopic, payload)
					}
				}
			}()
		}
	}
	authors := make([]int, o.Messages)
	for m := range o.Messages {
		a := honest[r.IntN(len(honest))]
		authors[m] = a
		payload := make([]byte, o.Size)
		binary.BigEndian.PutUint32(payload, uint32(m)|'M'<<24)
		pubAt[m].Store(time.Now().UnixNano())
		if _, err := nodes[a].svc.Publish(ctx, gossipTopic, payload); err != nil && o.Logf != nil {
			o.Logf("gossip: publish %d: %v", m, err)
		}
		if m < o.Messages-1 {
			time.Sleep(o.Interval)
		}
	}
	// Wait until every honest node has every message, or Drain.
	deadline := time.Now().Add(o.Drain)
	complete := func() bool {
		for m := range o.Messages {
			for _, i := range honest {
				if i != authors[m] && recv[m][i].Load() == 0 {
					return false
				}
			}
		}
		return true
	}
	for !complete() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(window)
	close(stopSpam)
	spam.Wait()

	var sent1 int64
	var end [3]int64
	for _, i := range honest {
		sent1 += nodes[i].h.Sent(ClassPubSub)
		end[0] += nodes[i].tr.deliver.Load()
		end[1] += nodes[i].tr.dup.Load()
		end[2] += nodes[i].tr.reject.Load()
	}
	var lats, toAll []time.Duration
	delivered, expected, all := 0, 0, 0
	for m := range o.Messages {
		p := pubAt[m].Load()
		var last time.Duration
		reached := true
		for _, i := range honest {
			if i == authors[m] {
				continue
			}
			expected++
			t := recv[m][i].Load()
			if t == 0 {
				reached = false
				continue
			}
			delivered++
			d := time.Duration(t - p)
			lats = append(lats, d)
			last = max(last, d)
		}
		if reached {
			all++
			toAll = append(toAll, last)
		}
	}
	slices.Sort(lats)
	slices.Sort(toAll)
	res.Delivery = float64(delivered) / float64(max(1, expected))
	res.AllReached = float64(all) / float64(max(1, o.Messages))
	res.LatP50, res.LatP99 = quantile(lats, 0.5), quantile(lats, 0.99)
	res.ToAllP50, res.ToAllP99 = quantile(toAll, 0.5), quantile(toAll, 0.99)
	if d := end[0] - base[0]; d > 0 {
		res.DupPerDelivery = float64(end[1]-base[1]) / float64(d)
	}
	res.Rejected = float64(end[2]-base[2]) / float64(len(honest))
	bytes := float64(sent1 - sent0)
	res.BytesPerSec = bytes / float64(len(honest)) / elapsed.Seconds()
	res.BytesPerMsg = bytes / float64(len(honest)) / float64(max(1, o.Messages))
	res.Links = net.Links()
	res.Wall = time.Since(start)
	if o.Logf != nil {
		o.Logf("gossip: delivery %.4f, all reached %.2f, to all p50 %s p99 %s, dups %.2f, %.0f B/s/node",
			res.Delivery, res.AllReached, res.ToAllP50.Round(time.Millisecond), res.ToAllP99.Round(time.Millisecond),
			res.DupPerDelivery, res.BytesPerSec)
	}
	for _, nd := range nodes {
		nd.sub.Close()
	}
	return res, ctx.Err()
}
