package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kcloud/onboarding/internal/ratelimit"
)

// The abuse limits. Per-IP limits are generous (offices share addresses);
// per-sign-up and per-account limits are tight. They are counted in the
// shared store (RATE_LIMIT_STORE) when there is one, else per API process.
type limitName int

const (
	limitVerifyIP limitName = iota
	limitVerifySignup
	limitAvailabilityIP
	limitSignInIP
	limitSignInAccount
	limitResetIP
	limitResetAccount
	limitTokenIP
)

type limits struct {
	byName map[limitName]*ratelimit.Limiter
}

// share counts every limit in store (nil: per process), each under its
// name's number.
func (l *limits) share(store ratelimit.Store) *limits {
	for name, lim := range l.byName {
		lim.Share(store, "limit"+strconv.Itoa(int(name)))
	}
	return l
}

func newLimits() *limits {
	return &limits{byName: map[limitName]*ratelimit.Limiter{
		limitVerifyIP:       ratelimit.New(30, 2*time.Second), // 30 at once, then 30/min
		limitVerifySignup:   ratelimit.New(10, 6*time.Second), // 10 at once, then 10/min
		limitAvailabilityIP: ratelimit.New(60, time.Second),   // 60/min
		limitSignInIP:       ratelimit.New(30, 2*time.Second), // 30/min
		limitSignInAccount:  ratelimit.New(10, 6*time.Second), // 10/min
		limitResetIP:        ratelimit.New(20, 3*time.Minute), // 20/hour
		limitResetAccount:   ratelimit.New(5, 12*time.Minute), // 5/hour
		limitTokenIP:        ratelimit.New(30, 2*time.Second), // 30/min
	}}
}

type keyFunc func(c *gin.Context) string

func byIP(c *gin.Context) string { return c.ClientIP() }

func bySignup(c *gin.Context) string { return c.Param("id") }

// limit answers 429 rate_limited, with Retry-After, once key has used its
// allowance of the named limit.
func (s *Server) limit(name limitName, key keyFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.limits != nil && !s.allow(c, name, key(c)) {
			return
		}
		c.Next()
	}
}

// allow takes a token from a limit, answering 429 when there is none.
func (s *Server) allow(c *gin.Context, name limitName, key string) bool {
	if s.limits == nil || key == "" {
		return true
	}
	ok, retry, err := s.limits.byName[name].AllowContext(c.Request.Context(), key)
	if err != nil {
		// The shared counter is down: let the call through rather than
		// lock everyone out, and say so.
		s.log.WarnContext(c.Request.Context(), "rate limit store unavailable; call allowed", "error", err)
	}
	if ok {
		return true
	}
	secs := int(retry.Seconds() + 0.999)
	c.Header("Retry-After", strconv.Itoa(max(secs, 1)))
	s.fail(c, problem(http.StatusTooManyRequests, "rate_limited", "too many attempts; try again in "+strconv.Itoa(max(secs, 1))+" seconds"))
	return false
}

// accountKey names an account for the per-account limits.
func accountKey(org, email string) string {
	return strings.ToLower(strings.TrimSpace(org)) + "\x00" + strings.ToLower(strings.TrimSpace(email))
}

// cors lets the configured front-end origins call the API from a browser.
func (s *Server) cors() gin.HandlerFunc {
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin != "" && strings.HasPrefix(c.Request.URL.Path, "/api/") && slices.Contains(s.cfg.CORSOrigins, origin) {
			h := c.Writer.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, X-Request-Id")
			h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			h.Add("Vary", "Origin")
		}
		if c.Request.Method == http.MethodOptions && strings.HasPrefix(c.Request.URL.Path, "/api/") {
			// A preflight: the headers above say what is allowed.
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}
