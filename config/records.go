package config

import "fmt"

// Records configures signed key/value records and provider records on the DHT.
type Records struct {
	TTL               Duration `toml:"ttl" comment:"Lifetime (EOL) of the records this node puts; they are republished before it. Default \"24h\"."`
	MaxValueSize      int      `toml:"max_value_size" comment:"Largest record value in bytes, for records this node puts, stores or returns. Default 16384 (16 KiB)."`
	RepublishInterval Duration `toml:"republish_interval" comment:"How often this node republishes its own records. Default \"1h\"."`
	ReprovideInterval Duration `toml:"reprovide_interval" comment:"How often this node re-announces its provider records (which expire after 48h). Default \"11h\"."`
}

func defaultRecords() Records {
	return Records{TTL: Duration(24 * 3600e9), MaxValueSize: 16 << 10,
		RepublishInterval: Duration(3600e9), ReprovideInterval: Duration(11 * 3600e9)}
}

func (c *Config) validateRecords() []error {
	r := c.Records
	var errs []error
	if r.TTL <= 0 || r.RepublishInterval <= 0 || r.ReprovideInterval <= 0 {
		errs = append(errs, fmt.Errorf("records: ttl (%s), republish_interval (%s) and reprovide_interval (%s) must be positive",
			r.TTL, r.RepublishInterval, r.ReprovideInterval))
	}
	if r.MaxValueSize <= 0 || r.MaxValueSize > 1<<20 {
		errs = append(errs, fmt.Errorf("records.max_value_size: %d is outside 1..1048576", r.MaxValueSize))
	}
	return errs
}
