package pubsub_test

import (
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/internal/testnet"
	"github.com/plexus-p2p/plexus/pubsub"
)

// The configuration file and the package's options accept exactly the same
// pubsub settings, and the package's defaults are the file's.
func TestConfigAndOptionsAgree(t *testing.T) {
	hosts := testnet.Mocknet(t, 1)
	type setting struct {
		name   string
		mutate func(*config.PubSub)
		opt    pubsub.Option
	}
	var cases []setting
	for _, r := range []string{"gossipsub", "floodsub", "", "randomsub", "GossipSub"} {
		cases = append(cases, setting{"router " + r, func(p *config.PubSub) { p.Router = r }, pubsub.WithRouter(r)})
	}
	for _, n := range []int{-1, 0, 1, 1 << 20, 64 << 20, 64<<20 + 1} {
		cases = append(cases, setting{"max size", func(p *config.PubSub) { p.MaxMessageSize = n }, pubsub.WithMaxMessageSize(n)})
	}
	for _, d := range []time.Duration{-time.Second, 0, time.Nanosecond, time.Minute} {
		cases = append(cases, setting{"publish wait", func(p *config.PubSub) { p.PublishWait = config.Duration(d) }, pubsub.WithPublishWait(d)})
	}
	for _, c := range cases {
		cfg := config.Default()
		c.mutate(&cfg.PubSub)
		s, err := pubsub.New(t.Context(), hosts[0], c.opt)
		if err == nil {
			_ = s.Close()
		}
		if cfgOK, optOK := cfg.Validate() == nil, err == nil; cfgOK != optOK {
			t.Errorf("%s: config accepts = %v, option accepts = %v", c.name, cfgOK, optOK)
		}
	}

	d := config.Default().PubSub
	if d.Router != pubsub.RouterGossipSub || d.MaxMessageSize != pubsub.DefaultMaxMessageSize ||
		time.Duration(d.PublishWait) != pubsub.DefaultPublishWait {
		t.Errorf("config defaults %+v differ from the package's", d)
	}
}
