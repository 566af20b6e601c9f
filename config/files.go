package config

import (
	"fmt"
	"time"
)

// Files configures file sharing (package files): the block store and the
// exchange of blocks between nodes.
type Files struct {
	Sync              string   `toml:"sync" comment:"When stored blocks are flushed to disk: \"commit\" (once per add, fetch or pin, before it is reported complete: what the node reports is durable, at near unflushed speed), \"block\" (fsync every block, as Kubo; about a quarter of the speed here) or \"none\" (never; a power loss can lose recent blocks). Default \"commit\"."`
	ReprovideInterval Duration `toml:"reprovide_interval" comment:"How often pinned roots are announced again on the DHT (provider records expire after 48h); \"0s\" turns it off. 1m to 47h. Default \"22h0m0s\"."`
	FetchTimeout      Duration `toml:"fetch_timeout" comment:"A fetch fails with \"not found\" when no block has arrived for this long (it says how many providers were tried). 1s to 1h. Default \"1m0s\"."`
}

// FilesBlocksDir is the flatfs block directory inside a repo.
const FilesBlocksDir = "blocks"

// Defaults and bounds of the files settings; package files takes its
// defaults from these.
const (
	DefaultFilesSync              = "commit"
	DefaultFilesReprovideInterval = 22 * time.Hour
	MaxFilesReprovideInterval     = 47 * time.Hour
	DefaultFilesFetchTimeout      = time.Minute
	MinFilesFetchTimeout          = time.Second
	MaxFilesFetchTimeout          = time.Hour
)

func defaultFiles() Files {
	return Files{Sync: DefaultFilesSync, ReprovideInterval: Duration(DefaultFilesReprovideInterval),
		FetchTimeout: Duration(DefaultFilesFetchTimeout)}
}

func (c *Config) validateFiles() []error {
	f := c.Files
	var errs []error
	switch f.Sync {
	case "commit", "block", "none":
	default:
		errs = append(errs, fmt.Errorf("files.sync: %q is not one of \"commit\", \"block\", \"none\"", f.Sync))
	}
	if d := time.Duration(f.ReprovideInterval); d != 0 && (d < MinRecordInterval || d > MaxFilesReprovideInterval) {
		errs = append(errs, fmt.Errorf("files.reprovide_interval: %s is outside [%s, %s] (0s turns it off)", d, MinRecordInterval, MaxFilesReprovideInterval))
	}
	if d := time.Duration(f.FetchTimeout); d < MinFilesFetchTimeout || d > MaxFilesFetchTimeout {
		errs = append(errs, fmt.Errorf("files.fetch_timeout: %s is outside [%s, %s]", d, MinFilesFetchTimeout, MaxFilesFetchTimeout))
	}
	return errs
}
