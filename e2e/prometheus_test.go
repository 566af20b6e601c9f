package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/internal/testnet"
)

// A real Prometheus (Debian's prometheus package, installed by
// scripts/install-deps.sh) scrapes a daemon that crawls its network
// (explore.interval) and answers queries for the plexus_network_* metrics;
// every metric the shipped Grafana dashboard queries is one the daemon
// exports.
func TestPrometheusScrapesNetworkMetrics(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus is not installed (scripts/install-deps.sh installs Debian's prometheus package as root): %v", err)
	}
	base := t.TempDir()
	metricsAddr := freeAddr(t)
	crawler := filepath.Join(base, "crawler")
	ok(t, crawler, "init")
	ok(t, crawler, "config", "set", "explore.interval", "10s")
	ok(t, crawler, "config", "set", "api.metrics_listen", metricsAddr)
	startDaemon(t, crawler)
	var id wire.ID
	okJSON(t, crawler, &id, "id")
	for _, name := range []string{"peer1", "peer2"} {
		startDaemon(t, filepath.Join(base, name), "--bootstrap", id.Addrs[0])
	}
	waitConnected(t, crawler, 2)

	promAddr := freeAddr(t)
	cfg := filepath.Join(base, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: plexus
    static_configs:
      - targets: [%q]
`, metricsAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(base, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})

	// The crawl finds the 3 daemons; Prometheus scrapes the figures.
	var got string
	testnet.Eventually(t, 90*time.Second, func() bool {
		got = promQuery(t, promAddr, `plexus_network_nodes{job="plexus"}`)
		return got == "3"
	}, "Prometheus answered plexus_network_nodes = %q, want 3\n%s", testnet.Lazy(func() string { return got }), &out)
	if v := promQuery(t, promAddr, `sum(plexus_network_nodes_by_agent{agent=~"plexus/.*"})`); v != "3" {
		t.Errorf("nodes by plexus agent: %q, want 3", v)
	}
	if v := promQuery(t, promAddr, `plexus_peers_connected`); v != "2" {
		t.Errorf("plexus_peers_connected: %q, want 2", v)
	}

	exported := metricNames(t, "http://"+metricsAddr+"/metrics")
	for _, m := range dashboardMetrics(t) {
		if !exported[m] {
			t.Errorf("dashboards/plexus.json queries %s, which the daemon does not export", m)
		}
	}
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// promQuery runs an instant query and returns the first sample's value, or
// "" when there is none (or Prometheus is not up yet).
func promQuery(t *testing.T, addr, q string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" || len(r.Data.Result) == 0 {
		return ""
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	return s
}

// metricNames lists the metric families a /metrics page exposes.
func metricNames(t *testing.T, u string) map[string]bool {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
		}
	}
	return names
}

// dashboardMetrics lists the metric names the Grafana dashboard's queries use.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../dashboards/plexus.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboards/plexus.json: %v", err)
	}
	re := regexp.MustCompile(`\b(plexus|libp2p|go|process)_[a-z0-9_]+`)
	seen := map[string]bool{}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range re.FindAllString(tg.Expr, -1) {
				if !seen[m] {
					seen[m] = true
					out = append(out, m)
				}
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("dashboards/plexus.json queries only %d metrics: %v", len(out), out)
	}
	return out
}
