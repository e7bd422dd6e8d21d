package api

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kcloud/onboarding/internal/ratelimit"
)

// The abuse limits. Per-IP limits are generous (offices share addresses);
// per-sign-up and per-account limits are tight. They are counted in the
// shared store (RATE_LIMIT_STORE) when there is one, else per API process.
// A limit's name is also its key in the shared store, so it stays the same
// across releases.
type limitName string

const (
	limitVerifyIP       limitName = "verify_ip"
	limitVerifySignup   limitName = "verify_signup"
	limitAvailabilityIP limitName = "availability_ip"
	limitSignInIP       limitName = "sign_in_ip"
	limitSignInAccount  limitName = "sign_in_account"
	limitResetIP        limitName = "reset_ip"
	limitResetAccount   limitName = "reset_account"
	limitTokenIP        limitName = "token_ip"
	// Unauthenticated writes: creating sign-ups, every call on a sign-up
	// (its token page, the wizard steps, uploads), and per sign-up.
	limitCreateIP     limitName = "create_ip"
	limitSignupIP     limitName = "signup_ip"
	limitStepSignup   limitName = "step_signup"
	limitUploadIP     limitName = "upload_ip"
	limitUploadSignup limitName = "upload_signup"
	// Operators: every admin API call, codec login and codec call with a
	// bearer token counts against limitOperatorIP; a wrong token also
	// against limitOperatorFailIP, which answers 429 once used up.
	limitOperatorIP     limitName = "operator_ip"
	limitOperatorFailIP limitName = "operator_fail_ip"
)

type limits struct {
	byName map[limitName]*ratelimit.Limiter
	// A store that is down fails every call: say so once per
	// storeWarnEvery, with how many calls went through meanwhile.
	lastWarn atomic.Int64 // unix nanoseconds
	unsaid   atomic.Int64
}

const storeWarnEvery = 10 * time.Second

// storeDown reports whether to log a store failure now, and how many calls
// were let through unlogged before it.
func (l *limits) storeDown(now time.Time) (bool, int64) {
	n := l.unsaid.Add(1)
	last := l.lastWarn.Load()
	if now.UnixNano()-last < int64(storeWarnEvery) || !l.lastWarn.CompareAndSwap(last, now.UnixNano()) {
		return false, 0
	}
	l.unsaid.Add(-n)
	return true, n - 1
}

// share counts every limit in store (nil: per process), each under its
// name.
func (l *limits) share(store ratelimit.Store) *limits {
	for name, lim := range l.byName {
		lim.Share(store, string(name))
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

		// Unauthenticated writes and operators (RELIABILITY.md, "Abuse").
		limitCreateIP:       ratelimit.New(20, 30*time.Second), // 20 at once, then 120/hour
		limitSignupIP:       ratelimit.New(120, time.Second/2), // 120 at once, then 120/min
		limitStepSignup:     ratelimit.New(30, 2*time.Second),  // 30 at once, then 30/min
		limitUploadIP:       ratelimit.New(20, 10*time.Second), // 20 at once, then 6/min
		limitUploadSignup:   ratelimit.New(10, 30*time.Second), // 10 at once, then 2/min
		limitOperatorIP:     ratelimit.New(60, time.Second),    // 60 at once, then 60/min
		limitOperatorFailIP: ratelimit.New(10, time.Minute),    // 10 wrong tokens, then 1/min
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
		if say, unsaid := s.limits.storeDown(time.Now()); say {
			s.log.WarnContext(c.Request.Context(), "rate limit store unavailable; calls allowed", "error", err, "calls_allowed_since_last_warning", unsaid)
		}
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
