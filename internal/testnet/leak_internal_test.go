package testnet

import (
	"strings"
	"testing"
	"time"
)

func parked(stop chan struct{}) { <-stop }

// A goroutine of ours that is still running is a leak; once it ends, it is
// not.
func TestFindLeaks(t *testing.T) {
	stop := make(chan struct{})
	go parked(stop)
	err := findLeaks(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "testnet.parked") {
		t.Fatalf("findLeaks = %v, want the parked goroutine", err)
	}
	close(stop)
	if err := findLeaks(5 * time.Second); err != nil {
		t.Fatalf("findLeaks after the goroutine ended: %v", err)
	}
}
