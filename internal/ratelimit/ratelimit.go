// Package ratelimit limits how often one key (an IP address, a sign-up, an
// account) may do something: burst actions at once, refilled one every
// interval. The buckets live in memory per process unless a Store shared
// by the replicas (PostgreSQL or Redis) is attached.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a token bucket per key.
type Limiter struct {
	shared  Store  // nil: the buckets below, in this process
	name    string // the limit's name in the shared store
	mu      sync.Mutex
	every   time.Duration
	burst   int
	buckets map[string]*bucket
	sweep   time.Time
	now     func() time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New allows burst actions at once per key, refilled one every interval.
func New(burst int, every time.Duration) *Limiter {
	return &Limiter{every: every, burst: burst, buckets: map[string]*bucket{}, now: time.Now}
}

// Share counts this limit in store under name (with the rule, so that a
// changed rule starts afresh), instead of in this process.
func (l *Limiter) Share(store Store, name string) {
	if store == nil {
		return
	}
	l.shared, l.name = store, name+"/"+strconv.Itoa(l.burst)+"/"+l.every.String()
}

// Rule is the limit's shape.
func (l *Limiter) Rule() Rule { return Rule{Burst: l.burst, Every: l.every} }

// AllowContext takes a token for key from the shared store when there is
// one, else from this process's bucket. A store that fails lets the call
// through (with the error): an outage of the counter must not lock
// everyone out.
func (l *Limiter) AllowContext(ctx context.Context, key string) (bool, time.Duration, error) {
	if l.shared == nil {
		ok, retry := l.Allow(key)
		return ok, retry, nil
	}
	// Keys may be personal (an account's email): the store sees a hash.
	sum := sha256.Sum256([]byte(key))
	ok, retry, err := l.shared.Allow(ctx, l.name+"|"+base64.RawURLEncoding.EncodeToString(sum[:18]), l.Rule())
	if err != nil {
		return true, 0, err
	}
	return ok, retry, nil
}

// Allow takes a token for key in this process. When there is none it says
// how long until there will be.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.sweep) > time.Minute {
		// Forget keys whose buckets have long been full.
		idle := l.every*time.Duration(l.burst) + time.Minute
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idle {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, l.every
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len is the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
