package messaging_test

import (
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/messaging"
)

// The configuration file and the package's options accept exactly the same
// messaging settings, and the package's defaults are the file's.
func TestConfigAndOptionsAgree(t *testing.T) {
	h := testnet.Mocknet(t, 1)[0]
	accepts := func(mutate func(*config.Messaging), opt messaging.Option) (bool, bool) {
		c := config.Default()
		mutate(&c.Messaging)
		s, err := messaging.New(h, opt)
		if err == nil {
			_ = s.Close()
		}
		return c.Validate() == nil, err == nil
	}
	type setting struct {
		name   string
		mutate func(*config.Messaging)
		opt    messaging.Option
	}
	var cases []setting
	for _, p := range []string{"/app/", "/recipes/", "/a/b/", "/", "/app", "app/", "//", "/a b/", "/a//b/", "/\u00e9/", "/" + strings.Repeat("x", 256) + "/"} {
		cases = append(cases, setting{"prefix " + p, func(m *config.Messaging) { m.ProtocolPrefix = p }, messaging.WithPrefix(p)})
	}
	for _, n := range []int{-1, 0, 1, 1 << 20, 64 << 20, 64<<20 + 1} {
		cases = append(cases,
			setting{"max size", func(m *config.Messaging) { m.MaxMessageSize = n }, messaging.WithMaxMessageSize(n)},
			setting{"max concurrent", func(m *config.Messaging) { m.MaxConcurrent = n }, messaging.WithMaxConcurrent(n)})
	}
	for _, d := range []time.Duration{-time.Second, 0, time.Nanosecond, time.Minute} {
		cases = append(cases,
			setting{"request timeout", func(m *config.Messaging) { m.RequestTimeout = config.Duration(d) }, messaging.WithRequestTimeout(d)},
			setting{"handler timeout", func(m *config.Messaging) { m.HandlerTimeout = config.Duration(d) }, messaging.WithHandlerTimeout(d)})
	}
	for _, c := range cases {
		if cfgOK, optOK := accepts(c.mutate, c.opt); cfgOK != optOK {
			t.Errorf("%s: config accepts = %v, option accepts = %v", c.name, cfgOK, optOK)
		}
	}

	d := config.Default().Messaging
	if d.ProtocolPrefix != messaging.DefaultPrefix || d.MaxMessageSize != messaging.DefaultMaxMessageSize ||
		time.Duration(d.RequestTimeout) != messaging.DefaultRequestTimeout ||
		time.Duration(d.HandlerTimeout) != messaging.DefaultHandlerTimeout || d.MaxConcurrent != messaging.DefaultMaxConcurrent {
		t.Errorf("config defaults %+v differ from the package's", d)
	}
}
