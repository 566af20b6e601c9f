package files

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// Metadata keys in the node's datastore.
const (
	pinPrefix   = "/plexus/files/pins"
	fetchPrefix = "/plexus/files/fetching" // a fetch started and not finished: verify stored blocks on resume
)

// Pin is a recursively pinned root.
type Pin struct {
	CID   cid.Cid
	Since time.Time
}

type pinRecord struct {
	Since time.Time `json:"since"`
}

func pinKey(c cid.Cid) datastore.Key { return datastore.NewKey(pinPrefix).ChildString(c.String()) }

func (s *Service) savePin(ctx context.Context, c cid.Cid) error {
	k := pinKey(c)
	if ok, err := s.meta.Has(ctx, k); err != nil || ok {
		return err
	}
	b, _ := json.Marshal(pinRecord{Since: time.Now().UTC()})
	if err := s.meta.Put(ctx, k, b); err != nil {
		return fmt.Errorf("files: save pin %s: %w", c, err)
	}
	return s.meta.Sync(ctx, k)
}

func (s *Service) isPinned(ctx context.Context, c cid.Cid) (bool, error) {
	return s.meta.Has(ctx, pinKey(c))
}

// Pin pins c recursively, fetching what is missing first; the pin is
// recorded once the whole DAG is stored and flushed. Pinned roots are
// announced on the DHT and reprovided.
func (s *Service) Pin(ctx context.Context, c cid.Cid) error {
	release, err := s.hold(ctx)
	if err != nil {
		return err
	}
	defer release()
	if _, err := s.fetch(ctx, c, nil); err != nil {
		return err
	}
	if err := s.savePin(ctx, c); err != nil {
		return err
	}
	s.provideAsync(c)
	return nil
}

// Unpin removes the pin of c (ErrNotPinned if there was none). Its blocks
// stay until GC.
func (s *Service) Unpin(ctx context.Context, c cid.Cid) error {
	ok, err := s.isPinned(ctx, c)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("files: unpin %s: %w", c, ErrNotPinned)
	}
	return s.meta.Delete(ctx, pinKey(c))
}

// Pins lists the pinned roots, oldest first.
func (s *Service) Pins(ctx context.Context) ([]Pin, error) {
	res, err := s.meta.Query(ctx, query.Query{Prefix: pinPrefix})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []Pin
	for r := range res.Next() {
		if r.Error != nil {
			return nil, r.Error
		}
		c, err := cid.Decode(datastore.NewKey(r.Key).BaseNamespace())
		if err != nil {
			s.log.Warn("skipping a malformed pin record", "key", r.Key)
			continue
		}
		var rec pinRecord
		_ = json.Unmarshal(r.Value, &rec)
		out = append(out, Pin{CID: c, Since: rec.Since})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}

// GCResult tells what GC removed.
type GCResult struct {
	Blocks int
	Bytes  uint64
}

// GC removes every block not reachable from a pin. It waits for adds,
// fetches and pins in progress and blocks new ones while it runs, so it
// never removes their blocks.
func (s *Service) GC(ctx context.Context) (GCResult, error) {
	if s.isClosed() {
		return GCResult{}, ErrClosed
	}
	if err := s.gcLock.Acquire(ctx, gcWeight); err != nil {
		return GCResult{}, err
	}
	defer s.gcLock.Release(gcWeight)
	pins, err := s.Pins(ctx)
	if err != nil {
		return GCResult{}, err
	}
	live := make(map[string]struct{})
	for _, p := range pins {
		err := s.walk(ctx, p.CID, false, func(v visit) error {
			live[string(v.cid.Hash())] = struct{}{}
			return nil
		})
		if err != nil {
			return GCResult{}, fmt.Errorf("files: gc: walk pin %s: %w", p.CID, err)
		}
	}
	keys, err := s.bs.AllKeysChan(ctx)
	if err != nil {
		return GCResult{}, err
	}
	var res GCResult
	var dead []cid.Cid
	for c := range keys {
		if _, ok := live[string(c.Hash())]; !ok {
			dead = append(dead, c)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	for _, c := range dead {
		size, err := s.bs.GetSize(ctx, c)
		if err != nil {
			continue
		}
		if err := s.bs.DeleteBlock(ctx, c); err != nil {
			return res, fmt.Errorf("files: gc: delete %s: %w", c, err)
		}
		res.Blocks++
		res.Bytes += uint64(size)
	}
	return res, nil
}
