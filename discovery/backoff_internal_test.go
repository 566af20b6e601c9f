package discovery

import (
	"testing"
	"time"
)

func TestBackoffDelayDoublesJittersAndCaps(t *testing.T) {
	const base, max = time.Second, 5 * time.Minute
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	want := base
	for attempt := 1; attempt <= 100; attempt++ {
		lo := backoffDelay(attempt, base, max, lowest)
		hi := backoffDelay(attempt, base, max, highest)
		if lo != want/2 || hi != want {
			t.Fatalf("attempt %d: delay in [%v, %v], want [%v, %v]", attempt, lo, hi, want/2, want)
		}
		want = min(want*2, max)
	}
	if got := backoffDelay(0, base, max, highest); got != base {
		t.Errorf("attempt 0: %v, want %v", got, base)
	}
}
