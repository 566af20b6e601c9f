package events_test

import (
	"sync"
	"testing"

	"github.com/plexus-p2p/plexus/events"
)

func TestFanOutAndOrder(t *testing.T) {
	b := events.New()
	defer b.Close()
	a, c := b.Subscribe(10), b.Subscribe(10)
	defer a.Close()
	defer c.Close()
	b.Publish("x.one", 1)
	b.Publish("x.two", 2)
	for _, s := range []*events.Subscription{a, c} {
		e1, e2 := <-s.C(), <-s.C()
		if e1.Type != "x.one" || e2.Type != "x.two" || e2.Seq != e1.Seq+1 {
			t.Fatalf("got %+v then %+v", e1, e2)
		}
	}
}

func TestSlowSubscriberDropsWithoutBlocking(t *testing.T) {
	b := events.New()
	defer b.Close()
	slow := b.Subscribe(2)
	defer slow.Close()
	for i := 0; i < 10; i++ {
		b.Publish("tick", i)
	}
	if got := slow.Dropped(); got != 8 {
		t.Fatalf("dropped = %d, want 8", got)
	}
	if len(slow.C()) != 2 {
		t.Fatalf("buffered = %d, want 2", len(slow.C()))
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	b := events.New()
	s := b.Subscribe(1)
	s2 := b.Subscribe(1)
	s2.Close()
	s2.Close() // idempotent
	b.Close()
	if _, ok := <-s.C(); ok {
		t.Fatal("channel still open after bus close")
	}
	s.Close()
	b.Publish("after", nil) // must not panic
	late := b.Subscribe(1)
	if _, ok := <-late.C(); ok {
		t.Fatal("subscription on closed bus is open")
	}
}

func TestConcurrentPublishSubscribe(t *testing.T) {
	b := events.New()
	defer b.Close()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				b.Publish("p", j)
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				s := b.Subscribe(4)
				s.Close()
			}
		}()
	}
	wg.Wait()
}

func TestRecorder(t *testing.T) {
	var r events.Recorder
	r.Publish("a", 1)
	r.Publish("b", 2)
	r.Publish("a", 3)
	if got := r.Data("a"); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("Data(a) = %v", got)
	}
	if got := r.Of("b"); len(got) != 1 || got[0].Seq != 2 || got[0].Time.IsZero() {
		t.Fatalf("Of(b) = %+v", got)
	}
	if len(r.Of("c")) != 0 {
		t.Fatal("Of(c) not empty")
	}
}
