// Package api is the HTTP side of onboarding: the sign-up wizard's calls
// (each one a Temporal Update of the sign-up workflow), invitations, password
// resets, console sign-in, the operators' admin API, health and metrics.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/kcloud/onboarding/internal/account"
	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/metrics"
	"github.com/kcloud/onboarding/internal/outbox"
	"github.com/kcloud/onboarding/internal/ratelimit"
	"github.com/kcloud/onboarding/internal/retention"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/tracing"
	"github.com/kcloud/onboarding/internal/web"
	"github.com/kcloud/onboarding/workflows"
)

// Config is what the API needs to know of the configuration.
type Config struct {
	TaskQueue  string
	Settings   workflows.Settings // timings given to new sign-ups
	AdminToken string             // "" turns the admin API off
	// UpdateTimeout bounds how long a wizard call waits for its Update.
	UpdateTimeout time.Duration
	// CodecToken guards the codec server ("" turns it off); CodecOrigins
	// may call it from a browser (the Temporal UI).
	CodecToken   string
	CodecOrigins []string
	// CORSOrigins may call the API from a browser on another origin.
	CORSOrigins []string
	// TrustedProxies may set X-Forwarded-For; none: the peer address is the client.
	TrustedProxies []string
	RateLimits     bool
	SecureCookies  bool
	// Namespace is the Temporal namespace (erasing deletes a sign-up's
	// closed workflow from it).
	Namespace string
	// StrictTransport sends Strict-Transport-Security (PUBLIC_BASE_URL is
	// https).
	StrictTransport bool
	// MetricsElsewhere leaves /metrics off this handler (METRICS_ADDR
	// serves it on its own listener).
	MetricsElsewhere bool
}

// Deps are the API's collaborators.
type Deps struct {
	DB       *store.DB
	Temporal client.Client
	Accounts *account.Service
	Mailbox  *mailbox.Store // dev mode only: serves /dev/mailbox
	Log      *slog.Logger
	Metrics  *metrics.Registry
	Tracing  *tracing.Tracing
	Keyring  *codec.Keyring // for the codec server
	// RateLimits counts the limits across replicas; nil: in this process.
	RateLimits ratelimit.Store
	Certs      *certstore.Store
	Eraser     *retention.Eraser
}

// Server answers the contract's routes.
type Server struct {
	cfg      Config
	db       *store.DB
	signups  *signup.Store
	temporal client.Client
	accounts *account.Service
	mailbox  *mailbox.Store
	log      *slog.Logger
	metrics  *metrics.Registry
	tracing  *tracing.Tracing
	keyring  *codec.Keyring
	pages    *web.Pages
	limits   *limits
	outbox   *outbox.Relay
	stopping atomic.Bool // readyz answers 503 once set
	certs    *certstore.Store
	eraser   *retention.Eraser
	uploads  *uploadSlots
	tokens   *knownTokens
}

// Stopping turns readiness off: /readyz answers 503 from now on, so load
// balancers stop sending while in-flight and late requests are still served.
func (s *Server) Stopping() { s.stopping.Store(true) }

// New returns a Server.
func New(cfg Config, d Deps) *Server {
	if cfg.UpdateTimeout == 0 {
		cfg.UpdateTimeout = 30 * time.Second
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	if d.Tracing == nil {
		d.Tracing, _ = tracing.Setup(context.Background(), "onboarding-api")
	}
	s := &Server{cfg: cfg, db: d.DB, temporal: d.Temporal, accounts: d.Accounts, mailbox: d.Mailbox, log: d.Log,
		metrics: d.Metrics, tracing: d.Tracing, keyring: d.Keyring, pages: web.MustNew(),
		outbox: outbox.New(d.DB, d.Temporal, d.Log), certs: d.Certs, eraser: d.Eraser, uploads: newUploadSlots(),
		tokens: newKnownTokens(maxKnownTokens)}
	if d.DB != nil { // nil: only the process's own routes (health, metrics)
		s.signups = signup.NewStore(d.DB.DB)
	}
	if cfg.RateLimits {
		s.limits = newLimits().share(d.RateLimits)
	}
	return s
}

// RunOutbox retries owed workflow signals until ctx ends.
func (s *Server) RunOutbox(ctx context.Context) { s.outbox.Run(ctx, 2*time.Second) }

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	if err := r.SetTrustedProxies(s.cfg.TrustedProxies); err != nil {
		s.log.Error("TRUSTED_PROXIES", "error", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(s.drainUnread(), s.recoverer(), s.requestID(), s.observe(), securityHeaders(s.cfg.StrictTransport), s.cors())
	r.NoRoute(func(c *gin.Context) {
		s.fail(c, problem(http.StatusNotFound, "not_found", "no such route"))
	})
	r.NoMethod(func(c *gin.Context) {
		s.fail(c, problem(http.StatusMethodNotAllowed, "method_not_allowed", "this route does not take "+c.Request.Method))
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	if !s.cfg.MetricsElsewhere {
		r.GET("/metrics", gin.WrapH(s.metrics.Handler()))
	}

	v1 := r.Group("/api/v1")
	v1.GET("/terms", s.terms)
	v1.POST("/signups", s.limit(limitCreateIP, byIP), s.createSignup)
	v1.GET("/organization-names/:name/availability", s.limit(limitAvailabilityIP, byIP), s.nameAvailability)
	// The view reads the row; the steps check the token against the hash
	// this process knows (reading the row only when it does not), and
	// leave the rest to the workflow.
	su := v1.Group("/signups/:id", s.limit(limitSignupIP, byIP))
	su.GET("", s.signupAuth(), s.getSignup)
	su.POST("/certificate", s.stepAuth(), s.limit(limitUploadIP, byIP), s.limit(limitUploadSignup, bySignup), s.uploadGate(), s.uploadCertificate)
	su.POST("/business-number/verify", s.stepAuth(), s.limit(limitVerifyIP, byIP), s.limit(limitVerifySignup, bySignup), s.verifyBusinessNumber)
	su.PUT("/user-info", s.stepAuth(), s.limit(limitStepSignup, bySignup), s.setUserInfo)
	su.PUT("/organization", s.stepAuth(), s.limit(limitStepSignup, bySignup), s.setOrganization)
	su.POST("/submit", s.stepAuth(), s.limit(limitStepSignup, bySignup), s.submit)

	v1.GET("/invitations/:token", s.limit(limitTokenIP, byIP), s.getInvitation)
	v1.POST("/invitations/:token/accept", s.limit(limitTokenIP, byIP), s.acceptInvitation)
	v1.POST("/password-resets", s.limit(limitResetIP, byIP), s.requestPasswordReset)
	v1.POST("/password-resets/:token/confirm", s.limit(limitTokenIP, byIP), s.confirmPasswordReset)

	v1.POST("/console/organizations/lookup", s.limit(limitSignInIP, byIP), s.lookupOrganization)
	v1.POST("/console/sessions", s.limit(limitSignInIP, byIP), s.signIn)
	v1.GET("/console/me", s.me)
	v1.DELETE("/console/sessions/current", s.signOut)

	admin := v1.Group("/admin", s.limit(limitOperatorIP, byIP), s.adminAuth())
	admin.GET("/signups", s.adminList)
	admin.GET("/signups/:id", s.adminShow)
	admin.POST("/signups/:id/retry", s.adminRetry)
	admin.POST("/signups/:id/resend-invite", s.adminResend)
	admin.POST("/signups/:id/cancel", s.adminCancel)
	admin.POST("/signups/:id/erase", s.adminErase)

	s.mountPages(r)
	s.mountCodec(r)
	if s.mailbox != nil {
		dev := r.Group("/dev", loopbackOnly())
		dev.GET("/mailbox", gin.WrapH(mailbox.Handler(s.mailbox)))
		dev.GET("/mailbox/view", s.devMailboxView)
	}
	return r
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 only when the database and Temporal answer. The answer
// names the check that failed, never why: errors quote connection strings
// and hosts, which go to the log only.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if s.stopping.Load() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "stopping"})
		return
	}
	checks := gin.H{"database": "ok", "temporal": "ok"}
	ready := true
	if err := s.db.Ping(ctx); err != nil {
		checks["database"], ready = "unavailable", false
		s.log.WarnContext(ctx, "readiness: database", "error", err)
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ready = "unavailable", false
		s.log.WarnContext(ctx, "readiness: temporal", "error", err)
	}
	if !ready {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
}

func (s *Server) recoverer() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				s.log.ErrorContext(c.Request.Context(), "panic in handler", "route", c.FullPath(), "panic", v)
				s.fail(c, problem(http.StatusInternalServerError, "internal_error", "something went wrong on our side; try again"))
			}
		}()
		c.Next()
	}
}

type ctxKey string

const requestIDKey ctxKey = "request_id"

// requestID takes X-Request-Id (when sane) or makes one, and echoes it.
func (s *Server) requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if len(id) == 0 || len(id) > 64 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Header("X-Request-Id", id)
		c.Set(string(requestIDKey), id)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey, id))
		c.Next()
	}
}

// observe traces each request, logs it by its route pattern (never the raw
// path, which may carry a token) and counts it in the metrics.
func (s *Server) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		// Route and method become labels, span names and log fields: both
		// are folded so that no client can mint new values (unknown
		// methods are "other", unmatched paths "unmatched").
		route := c.FullPath()
		if route == "" {
			route = metrics.UnmatchedRoute
		}
		method := metrics.Method(c.Request.Method)
		ctx, span := s.tracing.StartHTTP(c.Request, method, route)
		c.Request = c.Request.WithContext(metrics.WithCaller(ctx, method+" "+route))
		c.Next()
		tracing.EndHTTP(span, c.Writer.Status())
		elapsed := time.Since(start)
		s.metrics.ObserveRequest(route, method, c.Writer.Status(), elapsed)
		level := slog.LevelInfo
		if c.Writer.Status() >= 500 {
			level = slog.LevelError
		}
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			level = slog.LevelDebug
		}
		attrs := []any{"method", method, "route", route, "status", c.Writer.Status(),
			"elapsed_ms", float64(elapsed.Microseconds()) / 1000, "request_id", c.GetString(string(requestIDKey))}
		if id := c.Param("id"); id != "" && len(id) <= 64 {
			attrs = append(attrs, "signup_id", id)
		}
		s.log.Log(c.Request.Context(), level, "http request", attrs...)
	}
}
