package perf_test

import (
	"testing"

	"github.com/plexus-p2p/plexus/perf"
)

// WithProgress reports each phase of a non-zero size, on Run's goroutine,
// ending with the phase complete; the byte counts never go back.
func TestRunReportsProgress(t *testing.T) {
	client, server, _ := pair(t, "tcp")
	for _, c := range []struct{ up, down uint64 }{{3<<20 + 1, 5<<20 + 3}, {0, 1 << 20}, {1 << 20, 0}, {0, 0}} {
		var got []perf.Progress
		if _, err := perf.Run(t.Context(), client, server.ID(), c.up, c.down,
			perf.WithProgress(func(p perf.Progress) { got = append(got, p) })); err != nil {
			t.Fatal(err)
		}
		last := map[string]perf.Progress{}
		var phases []string
		for _, p := range got {
			prev, seen := last[p.Phase]
			if !seen {
				phases = append(phases, p.Phase)
			}
			if p.Bytes < prev.Bytes || p.Bytes > p.Total || p.Elapsed < prev.Elapsed {
				t.Fatalf("up=%d down=%d: report %+v after %+v", c.up, c.down, p, prev)
			}
			last[p.Phase] = p
		}
		var want []string
		if c.up > 0 {
			want = append(want, perf.PhaseUpload)
		}
		if c.down > 0 {
			want = append(want, perf.PhaseDownload)
		}
		if len(phases) != len(want) || (len(want) > 0 && phases[0] != want[0]) || (len(want) > 1 && phases[1] != want[1]) {
			t.Fatalf("up=%d down=%d: phases %v, want %v", c.up, c.down, phases, want)
		}
		if p := last[perf.PhaseUpload]; c.up > 0 && (p.Bytes != c.up || p.Total != c.up) {
			t.Fatalf("last upload report %+v, want %d of %d", p, c.up, c.up)
		}
		if p := last[perf.PhaseDownload]; c.down > 0 && (p.Bytes != c.down || p.Total != c.down) {
			t.Fatalf("last download report %+v, want %d of %d", p, c.down, c.down)
		}
	}
	if _, err := perf.Run(t.Context(), client, server.ID(), 1, 1, perf.WithProgress(nil)); err == nil {
		t.Fatal("Run accepted a nil progress function")
	}
}
