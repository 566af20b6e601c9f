package node

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// A crawl that meets many agent versions exports the most common ones and
// counts the rest as "other": remote nodes cannot grow the label set.
func TestTopLabelsBoundsCardinality(t *testing.T) {
	counts := map[string]int{}
	total := 0
	for i := range 100 {
		counts[fmt.Sprintf("agent-%03d", i)] = i + 1
		total += i + 1
	}
	top := topLabels(counts, maxAgentLabels)
	if len(top) != maxAgentLabels+1 {
		t.Fatalf("%d labels, want %d", len(top), maxAgentLabels+1)
	}
	if top[0].label != "agent-099" || top[0].n != 100 {
		t.Fatalf("most common first: got %+v", top[0])
	}
	sum := 0
	for _, lc := range top {
		sum += lc.n
	}
	if last := top[len(top)-1]; last.label != otherLabel || sum != total {
		t.Fatalf("last label %+v, sum %d, want %q and %d", last, sum, otherLabel, total)
	}
	if got := topLabels(map[string]int{"a": 1}, maxAgentLabels); len(got) != 1 || got[0].label != "a" {
		t.Fatalf("few labels are kept as they are: %+v", got)
	}
}

func TestLabelValue(t *testing.T) {
	long := strings.Repeat("é", 100) // 2 bytes each
	for _, s := range []string{long, "bad\xffutf8", "plexus/0.1.0"} {
		v := labelValue(s)
		if len(v) > maxLabelLen || !utf8.ValidString(v) {
			t.Errorf("labelValue(%q) = %q: %d bytes, valid UTF-8 %v", s, v, len(v), utf8.ValidString(v))
		}
	}
	if labelValue("plexus/0.1.0") != "plexus/0.1.0" {
		t.Error("a short agent version is changed")
	}
}
