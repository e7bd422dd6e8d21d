package ratelimit

import (
	"testing"
	"time"
)

// bucketSteps spend a bucket of burst 3, one more a second, from keys "a"
// and "b": whether each call is let through, after the clock advances.
var bucketSteps = []struct {
	key     string
	advance time.Duration
	want    bool
}{
	{"a", 0, true}, {"a", 0, true}, {"a", 0, true}, {"a", 0, false},
	{"b", 0, true},
	{"a", time.Second, true}, {"a", 0, false},
	{"a", 3 * time.Second, true}, {"a", 0, true}, {"a", 0, true}, {"a", 0, false},
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(3, time.Second)
	l.now = func() time.Time { return now }
	for i, s := range bucketSteps {
		now = now.Add(s.advance)
		ok, retry := l.Allow(s.key)
		if ok != s.want {
			t.Fatalf("step %d (%s): allowed %v, want %v", i, s.key, ok, s.want)
		}
		if !ok && (retry <= 0 || retry > time.Second) {
			t.Fatalf("step %d: retry after %s", i, retry)
		}
	}
	now = now.Add(time.Hour)
	l.Allow("c")
	if l.Len() != 1 {
		t.Errorf("idle keys kept: %d", l.Len())
	}
}
