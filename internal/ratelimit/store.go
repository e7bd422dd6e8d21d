package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"
)

// Rule is a limit: Burst actions at once, one more every Every.
type Rule struct {
	Burst int
	Every time.Duration
}

// Store counts limits for every replica at once.
type Store interface {
	// Allow takes a token for key under rule; when there is none it says
	// how long until there will be.
	Allow(ctx context.Context, key string, rule Rule) (bool, time.Duration, error)
	// Name says what the store is, for logs.
	Name() string
	Close() error
}

// Redis keeps the buckets in Redis (GCRA, github.com/go-redis/redis_rate).
type Redis struct {
	rdb    *redis.Client
	lim    *redis_rate.Limiter
	prefix string
}

// OpenRedis connects to redis://host:port/N; keys start with prefix.
func OpenRedis(ctx context.Context, url, prefix string) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: name the setting, not its value.
		return nil, errors.New("RATE_LIMIT_STORE is not a valid redis://[user:password@]host:port/N URL")
	}
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("RATE_LIMIT_STORE: redis at %s: %w", opt.Addr, err)
	}
	return &Redis{rdb: rdb, lim: redis_rate.NewLimiter(rdb), prefix: prefix}, nil
}

// Allow implements Store.
func (r *Redis) Allow(ctx context.Context, key string, rule Rule) (bool, time.Duration, error) {
	res, err := r.lim.Allow(ctx, r.prefix+key, redis_rate.Limit{Rate: 1, Period: rule.Every, Burst: rule.Burst})
	if err != nil {
		return false, 0, fmt.Errorf("rate limit (redis): %w", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, time.Millisecond), nil
}

// Name implements Store.
func (r *Redis) Name() string { return "redis" }

// Close implements Store.
func (r *Redis) Close() error { return r.rdb.Close() }

// SQL keeps the buckets in the application database's rate_limits table:
// one row per key holding its theoretical arrival time (GCRA), taken with
// one conditional upsert, so that concurrent replicas never both spend the
// last token. PostgreSQL and SQLite.
type SQL struct {
	db      *gorm.DB
	take    string // the conditional upsert, in the dialect's words
	sweepMu chan struct{}
	sweptAt time.Time
	now     func() time.Time
}

// takeSQL takes a token: the parameters are typed, as PostgreSQL cannot
// infer them in sums.
const takeSQL = `INSERT INTO rate_limits (bucket, tat_us) VALUES (?, CAST(? AS BIGINT) + CAST(? AS BIGINT))
ON CONFLICT (bucket) DO UPDATE SET tat_us = GREATEST(rate_limits.tat_us, CAST(? AS BIGINT)) + CAST(? AS BIGINT)
WHERE GREATEST(rate_limits.tat_us, CAST(? AS BIGINT)) + CAST(? AS BIGINT) - CAST(? AS BIGINT) <= CAST(? AS BIGINT)
RETURNING tat_us`

// NewSQL counts in db (dialect "postgres" or "sqlite").
func NewSQL(db *gorm.DB, dialect string) *SQL {
	take := takeSQL
	if dialect == "sqlite" {
		take = strings.ReplaceAll(takeSQL, "GREATEST", "MAX")
	}
	return &SQL{db: db, take: take, sweepMu: make(chan struct{}, 1), now: time.Now}
}

// Allow implements Store.
func (s *SQL) Allow(ctx context.Context, key string, rule Rule) (bool, time.Duration, error) {
	now := s.now().UnixMicro()
	every := rule.Every.Microseconds()
	limit := every * int64(rule.Burst)
	s.sweep(ctx, now)
	var got []int64
	if err := s.db.WithContext(ctx).Raw(s.take, key, now, every, now, every, now, every, now, limit).Scan(&got).Error; err != nil {
		return false, 0, fmt.Errorf("rate limit (database): %w", err)
	}
	if len(got) == 1 {
		return true, 0, nil
	}
	var tat int64
	if err := s.db.WithContext(ctx).Raw(`SELECT tat_us FROM rate_limits WHERE bucket = ?`, key).Scan(&tat).Error; err != nil {
		return false, 0, fmt.Errorf("rate limit (database): %w", err)
	}
	wait := time.Duration(tat+every-now-limit) * time.Microsecond
	return false, max(wait, time.Millisecond), nil
}

// sweep deletes, about once a minute, the rows whose buckets are full
// again (their time is past): they hold nothing a new row would not.
func (s *SQL) sweep(ctx context.Context, now int64) {
	select {
	case s.sweepMu <- struct{}{}:
	default:
		return
	}
	defer func() { <-s.sweepMu }()
	if time.Since(s.sweptAt) < time.Minute {
		return
	}
	s.sweptAt = time.Now()
	_ = s.db.WithContext(ctx).Exec(`DELETE FROM rate_limits WHERE tat_us < ?`, now).Error
}

// Name implements Store.
func (s *SQL) Name() string { return "database" }

// Close implements Store.
func (s *SQL) Close() error { return nil }
