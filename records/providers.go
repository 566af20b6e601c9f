package records

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Provision is a key this node provides.
type Provision struct {
	// Key is the key given to Provide.
	Key string
	// CID is the key's CID on the DHT (see ProviderCID).
	CID cid.Cid
	// Since is when Provide was first called for the key.
	Since time.Time
}

// provideState is what the datastore keeps per provided key (JSON).
type provideState struct {
	Key   string    `json:"key"`
	Since time.Time `json:"since"`
}

func provideKey(c cid.Cid) datastore.Key {
	return datastore.NewKey(providePrefix).ChildString(c.String())
}

// Provide announces on the DHT that this node provides key, an arbitrary string
// (hashed into a CID) or a CID string (used as is); see ProviderCID. The key is
// remembered in the datastore, and the republisher announces it again every
// reprovide interval until StopProviding.
func (s *Service) Provide(ctx context.Context, key string) error {
	c, err := ProviderCID(key)
	if err != nil {
		return fmt.Errorf("records: provide: %w", err)
	}
	if err := s.saveProvision(ctx, key, c); err != nil {
		return fmt.Errorf("records: provide %q: %w", key, err)
	}
	if err := s.d.Provide(ctx, c, true); err != nil {
		return fmt.Errorf("records: provide %q (%s, saved for reproviding): %w", key, c, err)
	}
	s.log.Debug("provided", "key", key, "cid", c)
	s.publish(EventProviderAdded, ProviderEvent{Key: key, CID: c})
	return nil
}

func (s *Service) saveProvision(ctx context.Context, key string, c cid.Cid) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := provideKey(c)
	switch has, err := s.ds.Has(ctx, k); {
	case err != nil:
		return fmt.Errorf("read %s: %w", k, err)
	case has:
		return nil
	}
	b, err := json.Marshal(provideState{Key: key, Since: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := s.ds.Put(ctx, k, b); err != nil {
		return fmt.Errorf("save %s: %w", k, err)
	}
	if err := s.ds.Sync(ctx, k); err != nil {
		return fmt.Errorf("sync %s: %w", k, err)
	}
	return nil
}

// StopProviding stops reproviding key. Provider records already on the network
// expire on their own (48h after they were last announced, in kad-dht).
func (s *Service) StopProviding(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("records: stop providing: %w: empty", ErrInvalidProvideKey)
	}
	c, err := keyCID(key) // a key stored under an older, looser rule can be stopped too
	if err != nil {
		return fmt.Errorf("records: stop providing: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ds.Delete(ctx, provideKey(c)); err != nil {
		return fmt.Errorf("records: stop providing %q: %w", key, err)
	}
	return nil
}

// Provided lists the keys this node provides, sorted by CID.
func (s *Service) Provided(ctx context.Context) ([]Provision, error) {
	res, err := s.ds.Query(ctx, query.Query{Prefix: providePrefix, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("records: list provided keys: %w", err)
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, fmt.Errorf("records: list provided keys: %w", err)
	}
	out := make([]Provision, 0, len(entries))
	for _, e := range entries {
		var st provideState
		if err := json.Unmarshal(e.Value, &st); err != nil {
			return nil, fmt.Errorf("records: decode %s: %w", e.Key, err)
		}
		c, err := keyCID(st.Key)
		if err != nil {
			return nil, fmt.Errorf("records: decode %s: %w", e.Key, err)
		}
		out = append(out, Provision{Key: st.Key, CID: c, Since: st.Since})
	}
	return out, nil
}

// FindProviders looks up to n providers of key (n <= 0: 20) on the DHT, bounded
// by ctx. The key is mapped to a CID as in Provide. It returns what it found
// when ctx ends, with ctx's error if it found none.
func (s *Service) FindProviders(ctx context.Context, key string, n int) ([]peer.AddrInfo, error) {
	c, err := ProviderCID(key)
	if err != nil {
		return nil, fmt.Errorf("records: find providers: %w", err)
	}
	if n <= 0 {
		n = DefaultFindProvidersCount
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []peer.AddrInfo
	seen := make(map[peer.ID]bool)
	for ai := range s.d.FindProvidersAsync(ctx, c, n) {
		if seen[ai.ID] {
			continue
		}
		seen[ai.ID] = true
		out = append(out, ai)
		if len(out) >= n {
			break
		}
	}
	// Only the caller's ctx can have ended here: cancel runs on return.
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("records: find providers of %q (%s): %w", key, c, ctx.Err())
	}
	return out, nil
}
