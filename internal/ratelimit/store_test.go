package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/kcloud/onboarding/internal/store/storetest"
)

// The database store spends a bucket like the in-process one: burst at
// once, one more every interval, and says how long to wait.
func TestSQLStore(t *testing.T) {
	db := storetest.Open(t)
	s := NewSQL(db.DB, string(db.Dialect))
	now := time.Unix(1_800_000_000, 0)
	s.now = func() time.Time { return now }
	rule := Rule{Burst: 3, Every: time.Second}
	ctx := context.Background()
	for i, st := range bucketSteps {
		now = now.Add(st.advance)
		ok, retry, err := s.Allow(ctx, st.key, rule)
		if err != nil {
			t.Fatal(err)
		}
		if ok != st.want {
			t.Fatalf("step %d (%s): allowed %v, want %v", i, st.key, ok, st.want)
		}
		if !ok && (retry <= 0 || retry > time.Second) {
			t.Fatalf("step %d: retry after %s", i, retry)
		}
	}
}

// A limiter shared through a store counts there; one whose store fails
// lets the call through and reports the error.
func TestLimiterShared(t *testing.T) {
	db := storetest.Open(t)
	store := NewSQL(db.DB, string(db.Dialect))
	a, b := New(2, time.Minute), New(2, time.Minute)
	a.Share(store, "x")
	b.Share(store, "x")
	ctx := context.Background()
	var allowed int
	for _, l := range []*Limiter{a, b, a, b} {
		ok, _, err := l.AllowContext(ctx, "acme\x00owner@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("two limiters sharing a store allowed %d, want 2", allowed)
	}
	var plain int64
	db.Raw("SELECT COUNT(*) FROM rate_limits WHERE bucket LIKE ?", "%example%").Scan(&plain)
	if plain != 0 {
		t.Error("the store holds the key (an email) in the clear")
	}
	_ = db.Close()
	ok, _, err := a.AllowContext(ctx, "acme\x00owner@example.com")
	if !ok || err == nil {
		t.Errorf("with the store closed: allowed %v, error %v; want allowed with an error", ok, err)
	}
}
