package config_test

import (
	"strings"
	"testing"

	"github.com/plexus-p2p/plexus/config"
)

func TestDHTLimitSettings(t *testing.T) {
	c := config.Default()
	d := c.DHT
	if d.QueryDialTimeout != config.DefaultDHTQueryDialTimeout || d.MaxRecordsPerPeer != 256 || d.MaxRecordBytesPerPeer != 4<<20 ||
		d.MaxRecords != 16384 || d.MaxRecordBytes != 256<<20 || d.MaxProviderRecordsPerPeer != 4096 || d.MaxProviderRecords != 262144 {
		t.Fatalf("defaults: %+v", d)
	}
	for _, tc := range []struct{ key, value, want string }{
		{"dht.query_dial_timeout", "500ms", `"500ms"`},
		{"dht.max_records_per_peer", "16", "16"},
		{"dht.max_record_bytes_per_peer", "1048576", "1048576"},
		{"dht.max_records", "1024", "1024"},
		{"dht.max_provider_records_per_peer", "100", "100"},
		{"dht.max_provider_records", "1000", "1000"},
	} {
		if err := config.Set(&c, tc.key, tc.value); err != nil {
			t.Fatalf("set %s=%s: %v", tc.key, tc.value, err)
		}
		if got, _ := config.Get(c, tc.key); got != tc.want {
			t.Fatalf("get %s = %s, want %s", tc.key, got, tc.want)
		}
	}
	for _, bad := range []struct{ key, value string }{
		{"dht.query_dial_timeout", "10ms"},
		{"dht.query_dial_timeout", "2m"},
		{"dht.max_records_per_peer", "-1"},
		{"dht.max_records", "100"}, // below max_records_per_peer (256)
		{"dht.max_record_bytes_per_peer", "1024"},
		{"dht.max_provider_records", "10"},
	} {
		c := config.Default()
		if err := config.Set(&c, bad.key, bad.value); err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Fatalf("set %s=%q: %v; want an error naming %s", bad.key, bad.value, err, bad.key)
		}
	}
	if err := config.CheckDHTQuotas(0, 0, 0, 0, 0, 0); err != nil {
		t.Fatalf("zero quotas stand for the defaults: %v", err)
	}
}
