package config

import (
	"fmt"
	"time"
)

// Explore configures the periodic crawl of the DHT network whose figures the
// node exports as plexus_network_* Prometheus metrics.
type Explore struct {
	Interval Duration `toml:"interval" comment:"Crawl the DHT network this often and export what was found as plexus_network_* metrics (nodes seen, dialable, by agent version and protocol, crawl duration). The crawl opens a connection to every node it reaches. \"0s\": off. At least 10s. Default \"0s\"."`
	Timeout  Duration `toml:"timeout" comment:"Bound on one crawl, 1s to 1h. Default \"1m0s\"."`
}

// Bounds of the explore settings.
const (
	// MinExploreInterval is the shortest crawl interval: a crawl dials every
	// node it reaches, so back-to-back crawls would keep the network busy.
	MinExploreInterval = 10 * time.Second
	// DefaultExploreTimeout bounds one crawl, as routing.ExploreOptions's
	// default bounds the crawl of `plexus explore` (GET /v1/explore).
	DefaultExploreTimeout = time.Minute
	// MaxExploreTimeout is the longest crawl allowed.
	MaxExploreTimeout = time.Hour
)

func defaultExplore() Explore {
	return Explore{Timeout: Duration(DefaultExploreTimeout)}
}

func (c *Config) validateExplore() []error {
	var errs []error
	e := c.Explore
	if e.Interval != 0 && e.Interval < Duration(MinExploreInterval) {
		errs = append(errs, fmt.Errorf("explore.interval: %s is below %s (or \"0s\" for off)", e.Interval, MinExploreInterval))
	}
	if e.Timeout < Duration(time.Second) || e.Timeout > Duration(MaxExploreTimeout) {
		errs = append(errs, fmt.Errorf("explore.timeout: %s is outside [1s, %s]", e.Timeout, MaxExploreTimeout))
	}
	return errs
}
