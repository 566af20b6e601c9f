package routing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ipfs/go-cid"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/peer"
	corerouting "github.com/libp2p/go-libp2p/core/routing"
)

// Combined answers the routing questions of a node that runs more than
// one DHT on its host: the primary one (the Plexus DHT, New) and others
// (the Amino DHT, NewAmino). It owns none of them: closing them is the
// caller's business.
//
//   - Content routing: Provide announces on every DHT at once;
//     FindProvidersAsync asks every DHT at once and merges the answers,
//     each provider once.
//   - Values: a key goes to the DHTs whose validator knows its namespace
//     (a /plexus/ key to the Plexus DHT only, /pk/ and /ipns/ keys to
//     both). PutValue stores on each of them, GetValue asks each and keeps
//     the best value, SearchValue merges their streams.
//   - FindPeer looks the peer up in every DHT at once.
//   - Table, Closest and Explore are the primary DHT's.
//
// With one DHT it behaves as that DHT does.
type Combined struct {
	primary *Service
	all     []*Service
	log     *slog.Logger
}

var (
	_ corerouting.ValueStore     = (*Combined)(nil)
	_ corerouting.ContentRouting = (*Combined)(nil)
)

// Combine returns the routing of primary and others; nil others are
// skipped, so Combine(plexus, amino) works with amino off (nil).
func Combine(primary *Service, others ...*Service) *Combined {
	c := &Combined{primary: primary, all: []*Service{primary}, log: primary.log}
	for _, o := range others {
		if o != nil {
			c.all = append(c.all, o)
		}
	}
	return c
}

// Primary returns the primary DHT.
func (c *Combined) Primary() *Service { return c.primary }

// DHTs returns every DHT, the primary first.
func (c *Combined) DHTs() []*Service { return append([]*Service(nil), c.all...) }

// Status summarises every DHT, the primary first.
func (c *Combined) Status() []Status {
	out := make([]Status, len(c.all))
	for i, d := range c.all {
		out[i] = d.Status()
	}
	return out
}

// Table lists the primary DHT's routing table (Service.Table).
func (c *Combined) Table() []Entry { return c.primary.Table() }

// Closest runs a lookup in the primary DHT (Service.Closest).
func (c *Combined) Closest(ctx context.Context, key string) ([]peer.ID, error) {
	return c.primary.Closest(ctx, key)
}

// Explore crawls the primary DHT's network (Service.Explore).
func (c *Combined) Explore(ctx context.Context, opts ExploreOptions) (Report, error) {
	return c.primary.Explore(ctx, opts)
}

// FindPeer finds the addresses of p as Service.FindPeer does, with the
// lookup run in every DHT at once: the first DHT to find p answers.
func (c *Combined) FindPeer(ctx context.Context, p peer.ID) (Found, error) {
	return findPeer(ctx, c.primary.h, p, c.all)
}

// Provide announces this node as a provider of c on every DHT at once and
// waits for all of them. It succeeds when at least one DHT took the
// announcement (the others' failures are logged), and otherwise answers
// every DHT's error: a node whose Amino DHT cannot reach the public
// network still provides on the Plexus DHT.
func (c *Combined) Provide(ctx context.Context, key cid.Cid, announce bool) error {
	return c.onEach(c.all, func(d *Service) error { return d.Provide(ctx, key, announce) },
		"provide failed on one DHT", "cid", key)
}

// FindProvidersAsync asks every DHT for providers of key at once and
// streams their answers as they come, each provider once (the first
// answer's addresses), until count providers (count <= 0: every one
// found), every DHT has finished, or ctx ends.
func (c *Combined) FindProvidersAsync(ctx context.Context, key cid.Cid, count int) <-chan peer.AddrInfo {
	if len(c.all) == 1 {
		return c.primary.FindProvidersAsync(ctx, key, count)
	}
	if count < 0 {
		count = 0
	}
	ctx, cancel := context.WithCancel(ctx)
	merged := make(chan peer.AddrInfo)
	var wg sync.WaitGroup
	for _, d := range c.all {
		in := d.FindProvidersAsync(ctx, key, count)
		wg.Go(func() {
			for ai := range in {
				select {
				case merged <- ai:
				case <-ctx.Done():
					// kad-dht closes in once ctx ends; drain it.
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(merged)
	}()
	out := make(chan peer.AddrInfo)
	go func() {
		// out closes first, so that the caller is not held up while the
		// DHTs' lookups wind down; then the forwarders are let end.
		defer func() {
			cancel()
			for range merged {
			}
		}()
		defer close(out)
		seen := make(map[peer.ID]bool)
		for ai := range merged {
			if seen[ai.ID] {
				continue
			}
			seen[ai.ID] = true
			select {
			case out <- ai:
			case <-ctx.Done():
				return
			}
			if count > 0 && len(seen) >= count {
				return
			}
		}
	}()
	return out
}

// forKey returns the DHTs whose validator knows the namespace of key.
// kad-dht refuses, before any network traffic, a key of a namespace its
// validator does not know; asking only the others keeps such refusals
// out of the answers.
func (c *Combined) forKey(key string) []*Service {
	ns, _, err := record.SplitKey(key)
	if err != nil {
		return c.all[:1] // the primary answers the malformed key
	}
	var out []*Service
	for _, d := range c.all {
		if nv, ok := d.d.Validator.(record.NamespacedValidator); !ok || nv[ns] != nil {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return c.all[:1] // the primary refuses the unknown namespace
	}
	return out
}

// PutValue stores a value record on every DHT that validates its
// namespace, at once. It succeeds when at least one of them stored it
// (the others' failures are logged), and otherwise answers every DHT's
// error.
func (c *Combined) PutValue(ctx context.Context, key string, value []byte, opts ...corerouting.Option) error {
	return c.onEach(c.forKey(key), func(d *Service) error { return d.PutValue(ctx, key, value, opts...) },
		"put value failed on one DHT", "key", key)
}

// onEach runs f on every DHT of ds at once and waits for all of them. It
// succeeds when f succeeded on at least one (the others' failures are
// logged with msg and the key), and otherwise answers every DHT's error.
func (c *Combined) onEach(ds []*Service, f func(*Service) error, msg, keyName string, key any) error {
	if len(ds) == 1 {
		return f(ds[0])
	}
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			if err := f(d); err != nil {
				errs[i] = fmt.Errorf("%s: %w", d.proto, err)
			}
		})
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	switch {
	case failed == len(errs):
		return errors.Join(errs...)
	case failed > 0:
		c.log.Warn(msg, keyName, key, "err", errors.Join(errs...))
	}
	return nil
}

// GetValue asks every DHT that validates the namespace of key at once and
// answers the best value any of them found (by the first such DHT's
// validator). When none found one it answers routing.ErrNotFound if every
// DHT said so, and otherwise the other errors.
func (c *Combined) GetValue(ctx context.Context, key string, opts ...corerouting.Option) ([]byte, error) {
	ds := c.forKey(key)
	if len(ds) == 1 {
		return ds[0].GetValue(ctx, key, opts...)
	}
	vals := make([][]byte, len(ds))
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() { vals[i], errs[i] = d.GetValue(ctx, key, opts...) })
	}
	wg.Wait()
	var found [][]byte
	var failures []error
	for i, v := range vals {
		switch {
		case errs[i] == nil && v != nil:
			found = append(found, v)
		case errs[i] != nil && !errors.Is(errs[i], corerouting.ErrNotFound):
			failures = append(failures, fmt.Errorf("%s: %w", ds[i].proto, errs[i]))
		}
	}
	if len(found) == 0 {
		if len(failures) == 0 {
			return nil, corerouting.ErrNotFound
		}
		return nil, errors.Join(failures...)
	}
	best, err := ds[0].d.Validator.Select(key, found)
	if err != nil {
		return nil, fmt.Errorf("select %q: %w", key, err)
	}
	return found[best], nil
}

// SearchValue streams ever better values of key from every DHT that
// validates its namespace, merged: a value is passed on only when it beats
// every value passed on before (by the first such DHT's validator).
func (c *Combined) SearchValue(ctx context.Context, key string, opts ...corerouting.Option) (<-chan []byte, error) {
	ds := c.forKey(key)
	if len(ds) == 1 {
		return ds[0].SearchValue(ctx, key, opts...)
	}
	ctx, cancel := context.WithCancel(ctx)
	var ins []<-chan []byte
	var errs []error
	for _, d := range ds {
		in, err := d.SearchValue(ctx, key, opts...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.proto, err))
			continue
		}
		ins = append(ins, in)
	}
	if len(ins) == 0 {
		cancel()
		return nil, errors.Join(errs...)
	}
	merged := make(chan []byte)
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() {
			for v := range in {
				select {
				case merged <- v:
				case <-ctx.Done():
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(merged)
	}()
	v := ds[0].d.Validator
	out := make(chan []byte)
	go func() {
		defer func() { // as in FindProvidersAsync
			cancel()
			for range merged {
			}
		}()
		defer close(out)
		var best []byte
		for val := range merged {
			if best != nil {
				if bytes.Equal(best, val) {
					continue
				}
				if i, err := v.Select(key, [][]byte{best, val}); err != nil || i != 1 {
					continue
				}
			}
			best = val
			select {
			case out <- val:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
