package password

import (
	"runtime"
	"testing"
	"time"
)

// A hash waits while every slot is held, and runs once one is free.
func TestHashWaitsForASlot(t *testing.T) {
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1})
	if want := max(1, runtime.GOMAXPROCS(0)/2); cap(h.slots) != want {
		t.Fatalf("%d slots, want %d", cap(h.slots), want)
	}
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.Hash("Waiting!Pass1")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("hashed while every slot was held (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	<-h.slots
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hash did not run once a slot was free")
	}
}
