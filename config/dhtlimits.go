package config

import (
	"fmt"
	"time"
)

// Defaults and bounds of the DHT's protection settings (issue 20).
const (
	// DefaultDHTQueryDialTimeout bounds each dial of a DHT lookup: a
	// handshake with a live peer takes a few round trips, well under a
	// second; a dead one never answers.
	DefaultDHTQueryDialTimeout = Duration(3 * time.Second)
	MinDHTQueryDialTimeout     = 100 * time.Millisecond
	MaxDHTQueryDialTimeout     = time.Minute

	// Quotas on the records other peers store on this node (issue 20 row
	// 5). Per peer: 256 records of up to 16 KiB each at most 4 MiB, enough
	// for the records an application publishes; 4,096 provider records,
	// enough to share a directory of files. In all: 16,384 value records or
	// 256 MiB, and 262,144 provider records (about 40 MiB).
	DefaultDHTMaxRecordsPerPeer         = 256
	DefaultDHTMaxRecordBytesPerPeer     = 4 << 20
	DefaultDHTMaxRecords                = 16384
	DefaultDHTMaxRecordBytes            = 256 << 20
	DefaultDHTMaxProviderRecordsPerPeer = 4096
	DefaultDHTMaxProviderRecords        = 262144
)

// CheckDHTQuotas reports whether the DHT quotas are valid (zero fields
// stand for their defaults): each per-peer quota within its bounds and each
// total at least its per-peer quota.
func CheckDHTQuotas(peerRecords int, peerBytes int64, records int, bytes int64, peerProviders, providers int) error {
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	def64 := func(v, d int64) int64 {
		if v == 0 {
			return d
		}
		return v
	}
	peerRecords, records = def(peerRecords, DefaultDHTMaxRecordsPerPeer), def(records, DefaultDHTMaxRecords)
	peerBytes, bytes = def64(peerBytes, DefaultDHTMaxRecordBytesPerPeer), def64(bytes, DefaultDHTMaxRecordBytes)
	peerProviders, providers = def(peerProviders, DefaultDHTMaxProviderRecordsPerPeer), def(providers, DefaultDHTMaxProviderRecords)
	for _, c := range []struct {
		key      string
		v        int64
		min, max int64
	}{
		{"max_records_per_peer", int64(peerRecords), 1, 1 << 20},
		{"max_record_bytes_per_peer", peerBytes, 64 << 10, 1 << 30},
		{"max_records", int64(records), int64(peerRecords), 1 << 24},
		{"max_record_bytes", bytes, peerBytes, 64 << 30},
		{"max_provider_records_per_peer", int64(peerProviders), 1, 1 << 24},
		{"max_provider_records", int64(providers), int64(peerProviders), 1 << 26},
	} {
		if c.v < c.min || c.v > c.max {
			return fmt.Errorf("dht.%s: %d is outside %d..%d", c.key, c.v, c.min, c.max)
		}
	}
	return nil
}

// CheckDHTQueryDialTimeout reports whether d is a valid
// dht.query_dial_timeout: 100ms to 1m.
func CheckDHTQueryDialTimeout(d time.Duration) error {
	if d < MinDHTQueryDialTimeout || d > MaxDHTQueryDialTimeout {
		return fmt.Errorf("%s is outside [%s, %s]", d, MinDHTQueryDialTimeout, MaxDHTQueryDialTimeout)
	}
	return nil
}

func (c *Config) validateDHTLimits() []error {
	var errs []error
	if err := CheckDHTQueryDialTimeout(time.Duration(c.DHT.QueryDialTimeout)); err != nil {
		errs = append(errs, fmt.Errorf("dht.query_dial_timeout: %w", err))
	}
	d := c.DHT
	if err := CheckDHTQuotas(d.MaxRecordsPerPeer, int64(d.MaxRecordBytesPerPeer), d.MaxRecords, int64(d.MaxRecordBytes),
		d.MaxProviderRecordsPerPeer, d.MaxProviderRecords); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// withDHTLimits sets the defaults of the DHT's protection settings.
func withDHTLimits(d DHT) DHT {
	d.QueryDialTimeout = DefaultDHTQueryDialTimeout
	d.MaxRecordsPerPeer, d.MaxRecordBytesPerPeer = DefaultDHTMaxRecordsPerPeer, DefaultDHTMaxRecordBytesPerPeer
	d.MaxRecords, d.MaxRecordBytes = DefaultDHTMaxRecords, DefaultDHTMaxRecordBytes
	d.MaxProviderRecordsPerPeer, d.MaxProviderRecords = DefaultDHTMaxProviderRecordsPerPeer, DefaultDHTMaxProviderRecords
	return d
}
