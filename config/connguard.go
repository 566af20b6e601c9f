package config

import (
	"fmt"
	"time"
)

// Defaults and bounds of conn_manager.idle_grace and trim_cooldown.
const (
	DefaultIdleGrace    = 5 * time.Second
	MinIdleGrace        = 100 * time.Millisecond
	MaxIdleGrace        = time.Hour
	DefaultTrimCooldown = time.Minute
	MaxTrimCooldown     = time.Hour
)

func (c *Config) validateConnGuard() []error {
	cm := c.ConnManager
	var errs []error
	if g := time.Duration(cm.IdleGrace); g < MinIdleGrace || g > MaxIdleGrace {
		errs = append(errs, fmt.Errorf("conn_manager.idle_grace: %s is outside %s..%s", g, MinIdleGrace, MaxIdleGrace))
	} else if cm.GracePeriod >= 0 && cm.IdleGrace > cm.GracePeriod && cm.GracePeriod > 0 {
		errs = append(errs, fmt.Errorf("conn_manager.idle_grace: %s is above grace_period (%s)", cm.IdleGrace, cm.GracePeriod))
	}
	if d := time.Duration(cm.TrimCooldown); d < 0 || d > MaxTrimCooldown {
		errs = append(errs, fmt.Errorf("conn_manager.trim_cooldown: %s is outside 0s..%s (0: off)", d, MaxTrimCooldown))
	}
	return errs
}
