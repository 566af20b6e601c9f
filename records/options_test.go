package records_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/records"
)

// noRouting is a Routing whose methods panic: the tests below must fail
// before reaching the network.
type noRouting struct{ records.Routing }

func newOffline(t *testing.T, opts ...records.Option) (*records.Service, error) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return records.New(noRouting{}, k, dssync.MutexWrap(datastore.NewMapDatastore()), opts...)
}

// The config file and the records options accept exactly the same values:
// both check with the functions in package config.
func TestOptionBoundsMatchConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opt    records.Option
		config func(*config.Records)
		ok     bool
	}{
		{"ttl max", records.WithTTL(records.MaxTTL), func(r *config.Records) { r.TTL = config.Duration(records.MaxTTL) }, true},
		{"ttl over max", records.WithTTL(records.MaxTTL + 1), func(r *config.Records) { r.TTL = config.Duration(records.MaxTTL + 1) }, false},
		{"ttl zero", records.WithTTL(0), func(r *config.Records) { r.TTL = 0 }, false},
		{"ttl 1ns", records.WithTTL(1), func(r *config.Records) { r.TTL = 1 }, false},
		{"ttl under min", records.WithTTL(records.MinTTL - time.Millisecond), func(r *config.Records) { r.TTL = config.Duration(records.MinTTL - time.Millisecond) }, false},
		{"ttl min", records.WithTTL(records.MinTTL), func(r *config.Records) { r.TTL = config.Duration(records.MinTTL) }, true},
		{"value size max", records.WithMaxValueSize(records.MaxMaxValueSize), func(r *config.Records) { r.MaxValueSize = records.MaxMaxValueSize }, true},
		{"value size over max", records.WithMaxValueSize(records.MaxMaxValueSize + 1), func(r *config.Records) { r.MaxValueSize = records.MaxMaxValueSize + 1 }, false},
		{"value size zero", records.WithMaxValueSize(0), func(r *config.Records) { r.MaxValueSize = 0 }, false},
		{"republish 1ns", records.WithRepublishInterval(1), func(r *config.Records) { r.RepublishInterval = 1 }, false},
		{"republish 1m", records.WithRepublishInterval(time.Minute), func(r *config.Records) { r.RepublishInterval = config.Duration(time.Minute) }, true},
		{"reprovide 1s", records.WithReprovideInterval(time.Second), func(r *config.Records) { r.ReprovideInterval = config.Duration(time.Second) }, false},
		{"republish zero", records.WithRepublishInterval(0), func(r *config.Records) { r.RepublishInterval = 0 }, false},
		{"reprovide negative", records.WithReprovideInterval(-time.Second), func(r *config.Records) { r.ReprovideInterval = config.Duration(-time.Second) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newOffline(t, tc.opt)
			if (err == nil) != tc.ok {
				t.Errorf("records option: ok=%v, got %v", tc.ok, err)
			}
			c := config.Default()
			tc.config(&c.Records)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("config: ok=%v, got %v", tc.ok, err)
			}
		})
	}
}

func TestDefaultsAreTheConfigs(t *testing.T) {
	r := config.Default().Records
	if time.Duration(r.TTL) != records.DefaultTTL || r.MaxValueSize != records.DefaultMaxValueSize ||
		time.Duration(r.RepublishInterval) != records.DefaultRepublishInterval ||
		time.Duration(r.ReprovideInterval) != records.DefaultReprovideInterval {
		t.Fatalf("config defaults %+v differ from the records package's", r)
	}
}

func TestPutRejectsTTLOutOfBounds(t *testing.T) {
	svc, err := newOffline(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []time.Duration{records.MaxTTL + time.Second, time.Nanosecond, records.MinTTL - time.Second, -time.Hour} {
		_, err = svc.Put(context.Background(), "x", []byte("v"), ttl)
		if !errors.Is(err, records.ErrInvalidTTL) || !records.IsInvalid(err) || !strings.Contains(err.Error(), ttl.String()) {
			t.Errorf("Put with TTL %s: %v, want ErrInvalidTTL naming the TTL", ttl, err)
		}
	}
	if _, err := newOffline(t, records.WithTTL(-1)); !errors.Is(err, records.ErrInvalidTTL) {
		t.Fatalf("WithTTL(-1): %v", err)
	}
}
