package config

import (
	"fmt"
	"time"
)

// Records configures signed key/value records and provider records on the DHT.
type Records struct {
	TTL               Duration `toml:"ttl" comment:"Lifetime (EOL) of the records this node puts; they are republished before it. At least 1m, at most 8760h (365 days). Default \"24h\"."`
	MaxValueSize      int      `toml:"max_value_size" comment:"Largest record value in bytes, for records this node puts, stores or returns; at most 1048576 (1 MiB). Default 16384 (16 KiB)."`
	RepublishInterval Duration `toml:"republish_interval" comment:"How often this node republishes its own records (at least 1m). Default \"1h\"."`
	ReprovideInterval Duration `toml:"reprovide_interval" comment:"How often this node re-announces its provider records, which expire after 48h (at least 1m). Default \"11h\"."`
}

// Defaults and bounds of the records settings. Package records takes its own
// defaults from these and checks its options with the Check functions below,
// so a value the config accepts is one the records service accepts.
const (
	// DefaultRecordTTL is the default lifetime (EOL - now) of a published record.
	DefaultRecordTTL = 24 * time.Hour
	// MinRecordTTL is the shortest record lifetime. The republisher refreshes
	// a record every TTL/2 (when that is shorter than the republish
	// interval), and one put takes a lookup of the network's seq (up to 10s)
	// and of the closest peers (seconds), each of which checks the EOL with
	// its own clock. A minute keeps that to two puts a minute per record,
	// each starting with 30s of validity left to reach the closest peers;
	// below it a record expires in flight (the put fails) or the
	// republisher turns into a put storm.
	MinRecordTTL = time.Minute
	// MaxRecordTTL is the longest record lifetime.
	MaxRecordTTL = 365 * 24 * time.Hour
	// DefaultRecordMaxValueSize is the default limit on a record's value (16 KiB).
	DefaultRecordMaxValueSize = 16 << 10
	// MaxRecordMaxValueSize is the highest value size limit (1 MiB): the whole
	// record must fit in one DHT message.
	MaxRecordMaxValueSize = 1 << 20
	// DefaultRepublishInterval is how often own records are republished.
	DefaultRepublishInterval = time.Hour
	// DefaultReprovideInterval is how often provided keys are announced again;
	// kad-dht forgets a provider record 48h after its last announcement.
	DefaultReprovideInterval = 11 * time.Hour
	// MinRecordInterval is the shortest republish or reprovide interval:
	// each pass is a DHT lookup and a store per record or key, and a failed
	// pass is retried after a minute anyway.
	MinRecordInterval = time.Minute
)

// CheckRecordTTL reports whether d is a valid record lifetime:
// [MinRecordTTL, MaxRecordTTL], 1m to 8760h. The config file, the records
// service, the API and the CLI all check a TTL with it.
func CheckRecordTTL(d time.Duration) error {
	if d < MinRecordTTL || d > MaxRecordTTL {
		return fmt.Errorf("%s is outside [%s, %s]", d, MinRecordTTL, MaxRecordTTL)
	}
	return nil
}

// CheckRecordMaxValueSize reports whether n is a valid value size limit:
// 1..MaxRecordMaxValueSize bytes.
func CheckRecordMaxValueSize(n int) error {
	if n <= 0 || n > MaxRecordMaxValueSize {
		return fmt.Errorf("%d is outside 1..%d", n, MaxRecordMaxValueSize)
	}
	return nil
}

// CheckRecordInterval reports whether d is a valid republish or reprovide
// interval: at least MinRecordInterval (1m).
func CheckRecordInterval(d time.Duration) error {
	if d < MinRecordInterval {
		return fmt.Errorf("%s is shorter than %s", d, MinRecordInterval)
	}
	return nil
}

func defaultRecords() Records {
	return Records{TTL: Duration(DefaultRecordTTL), MaxValueSize: DefaultRecordMaxValueSize,
		RepublishInterval: Duration(DefaultRepublishInterval), ReprovideInterval: Duration(DefaultReprovideInterval)}
}

func (c *Config) validateRecords() []error {
	r := c.Records
	var errs []error
	if err := CheckRecordTTL(time.Duration(r.TTL)); err != nil {
		errs = append(errs, fmt.Errorf("records.ttl: %w", err))
	}
	if err := CheckRecordMaxValueSize(r.MaxValueSize); err != nil {
		errs = append(errs, fmt.Errorf("records.max_value_size: %w", err))
	}
	if err := CheckRecordInterval(time.Duration(r.RepublishInterval)); err != nil {
		errs = append(errs, fmt.Errorf("records.republish_interval: %w", err))
	}
	if err := CheckRecordInterval(time.Duration(r.ReprovideInterval)); err != nil {
		errs = append(errs, fmt.Errorf("records.reprovide_interval: %w", err))
	}
	return errs
}
