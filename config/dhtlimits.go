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
)

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
	return errs
}
