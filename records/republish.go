package records

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ipfs/go-datastore/query"

	"github.com/plexus-p2p/plexus/config"
)

// Republishing policy: an own record is republished with the same seq and a
// fresh EOL (now + its TTL), re-signed. The seq stays the same because the
// value did not change; the later EOL makes the republished record win Select
// against the copies already stored, and storing it refreshes kad-dht's receive
// time, so receivers keep it past MaxRecordAge (48h). A record published since
// (higher seq) is never rolled back: the republisher re-reads the latest own
// record under the same lock Put uses.

// Start runs the republisher in a goroutine until Close: it republishes own
// records every republish interval (1h, or half the shortest record TTL if
// less) and announces provided keys again every reprovide interval (11h). Both
// run once right away, which refreshes records whose EOL passed while the node
// was down; a pass with failures is retried after the retry interval (1m).
func (s *Service) Start() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return errors.New("records: Start after Close")
	}
	if s.started {
		return errors.New("records: already started")
	}
	s.started = true
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	go s.loop(ctx, s.done)
	return nil
}

// Close stops the republisher and waits for it. It is idempotent and does not
// close the routing or the datastore, which the caller owns.
func (s *Service) Close() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return nil
}

func (s *Service) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	recTimer := time.NewTimer(0)
	defer recTimer.Stop()
	provTimer := time.NewTimer(0)
	defer provTimer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-recTimer.C:
			minTTL, err := s.republish(ctx)
			next := s.cfg.republishInterval
			if minTTL > 0 && minTTL/2 < next {
				next = minTTL / 2
			}
			if err != nil && ctx.Err() == nil {
				s.log.Warn("republishing records failed", "err", err)
				next = min(next, s.cfg.retryInterval)
			}
			recTimer.Reset(next)
		case <-provTimer.C:
			next := s.cfg.reprovideInterval
			if err := s.Reprovide(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reproviding failed", "err", err)
				next = min(next, s.cfg.retryInterval)
			}
			provTimer.Reset(next)
		}
	}
}

// Republish re-signs every own record with the same seq and a fresh EOL and
// stores it on the DHT again. It returns the errors of the records that failed,
// joined; the others are still republished.
func (s *Service) Republish(ctx context.Context) error {
	_, err := s.republish(ctx)
	return err
}

// republish is Republish, also returning the shortest TTL of the own records
// (0 if there are none).
func (s *Service) republish(ctx context.Context) (time.Duration, error) {
	names, err := s.ownNames(ctx)
	if err != nil {
		return 0, err
	}
	var minTTL time.Duration
	var errs []error
	for _, name := range names {
		if ctx.Err() != nil {
			return minTTL, errors.Join(append(errs, ctx.Err())...)
		}
		ttl, err := s.republishOne(ctx, name)
		if ttl > 0 && (minTTL == 0 || ttl < minTTL) {
			minTTL = ttl
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(names) > 0 {
		s.log.Debug("republished records", "count", len(names), "failed", len(errs))
	}
	return minTTL, errors.Join(errs...)
}

func (s *Service) republishOne(ctx context.Context, name string) (time.Duration, error) {
	s.mu.Lock()
	st, found, err := s.loadOwn(ctx, name)
	if err != nil || !found {
		s.mu.Unlock()
		return 0, err // !found: forgotten since listed
	}
	prev, err := Unmarshal(st.Record)
	if err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("republish %q: stored own record: %w", name, err)
	}
	ttl := st.TTL
	if config.CheckRecordTTL(ttl) != nil {
		// Saved by a version with other bounds (0, or below MinTTL, which
		// would expire in flight and make the republisher spin).
		ttl = s.cfg.ttl
	}
	rec, data, err := s.signAndSave(ctx, name, prev.Value, prev.Seq, ttl)
	s.mu.Unlock()
	if err != nil {
		return ttl, fmt.Errorf("republish %q: %w", prev.Key, err)
	}
	if err := s.d.PutValue(ctx, rec.Key, data); err != nil {
		return ttl, fmt.Errorf("republish %q (seq %d): %w", rec.Key, rec.Seq, err)
	}
	return ttl, nil
}

// ownNames lists the names of the own records in the datastore.
func (s *Service) ownNames(ctx context.Context) ([]string, error) {
	res, err := s.ds.Query(ctx, query.Query{Prefix: ownPrefix, KeysOnly: true, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("records: list own records: %w", err)
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, fmt.Errorf("records: list own records: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimPrefix(e.Key, ownPrefix+"/"))
	}
	return names, nil
}

// Reprovide announces every provided key on the DHT again. It returns the
// errors of the keys that failed, joined; the others are still announced.
func (s *Service) Reprovide(ctx context.Context) error {
	provs, err := s.Provided(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range provs {
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		if err := s.d.Provide(ctx, p.CID, true); err != nil {
			errs = append(errs, fmt.Errorf("reprovide %q (%s): %w", p.Key, p.CID, err))
		}
	}
	if len(provs) > 0 {
		s.log.Debug("reprovided keys", "count", len(provs), "failed", len(errs))
	}
	return errors.Join(errs...)
}
