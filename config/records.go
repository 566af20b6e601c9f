package config

import (
	"fmt"
	"time"
)

// Records configures signed key/value records and provider records on the DHT.
type Records struct {
	TTL               Duration `toml:"ttl" comment:"Lifetime (EOL) of the records this node puts; they are republished before it. At most 8760h (365 days). Default \"24h\"."`
	MaxValueSize      int      `toml:"max_value_size" comment:"Largest record value in bytes, for records this node puts, stores or returns; at most 1048576 (1 MiB). Default 16384 (16 KiB)."`
	RepublishInterval Duration `toml:"republish_interval" comment:"How often this node republishes its own records. Default \"1h\"."`
	ReprovideInterval Duration `toml:"reprovide_interval" comment:"How often this node re-announces its provider records (which expire after 48h). Default \"11h\"."`
}

// Defaults and bounds of the records settings. Package records takes its own
// defaults from these and checks its options with the Check functions below,
// so a value the config accepts is one the records service accepts.
const (
	// DefaultRecordTTL is the default lifetime (EOL - now) of a published record.
	DefaultRecordTTL = 24 * time.Hour
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
)

// CheckRecordTTL reports whether d is a valid record lifetime: (0, MaxRecordTTL].
func CheckRecordTTL(d time.Duration) error {
	if d <= 0 || d > MaxRecordTTL {
		return fmt.Errorf("%s is outside (0, %s]", d, MaxRecordTTL)
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
// interval: positive.
func CheckRecordInterval(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s is not positive", d)
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
