// Package metrics is the process's Prometheus registry: HTTP requests, the
// Temporal SDK's own metrics, sign-up business counters and a gauge of
// sign-ups by status.
package metrics

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/signup"
)

// Registry holds the instruments.
type Registry struct {
	reg          *prometheus.Registry
	requests     *prometheus.HistogramVec
	events       *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	erased       *prometheus.CounterVec
}

// New registers the HTTP and business instruments and the Go runtime's.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "onboarding_http_request_duration_seconds",
			Help:    "HTTP requests by route pattern, method and status.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onboarding_signup_events_total",
			Help: "Sign-up events: started, submitted, invited, active, expired, abandoned, needs_attention, cancelled.",
		}, []string{"event"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onboarding_operator_auth_failures_total",
			Help: "Calls with a wrong operator token, by endpoint: admin (the admin API) or codec (the codec server and its login).",
		}, []string{"endpoint"}),
	}
	for _, e := range []string{EndpointAdmin, EndpointCodec} {
		r.authFailures.WithLabelValues(e)
	}
	r.erased = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "onboarding_signups_erased_total",
		Help: "Ended sign-ups whose personal data was erased, by trigger: retention (PII_RETENTION passed) or request (an operator's erase).",
	}, []string{"trigger"})
	r.erased.WithLabelValues("retention")
	r.erased.WithLabelValues("request")
	r.reg.MustRegister(r.erased)
	for _, e := range signup.Events {
		r.events.WithLabelValues(string(e))
	}
	r.reg.MustRegister(r.requests, r.events, r.authFailures, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// ObserveRequest records one HTTP request. Every label is bounded whatever
// the client sends: route is a registered pattern ("" becomes "unmatched"),
// the method one of the standard ones or "other", the status a valid code or
// "other".
func (r *Registry) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = UnmatchedRoute
	}
	r.requests.WithLabelValues(route, Method(method), statusLabel(status)).Observe(d.Seconds())
}

// UnmatchedRoute is the route label of requests no route matched.
const UnmatchedRoute = "unmatched"

// Method folds a request method into a bounded set: the methods of RFC 9110
// and PATCH as they are, anything else "other". Use it wherever a method
// becomes a label, a span name or a log field.
func Method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}

// Operator endpoints counted by onboarding_operator_auth_failures_total.
const (
	EndpointAdmin = "admin"
	EndpointCodec = "codec"
)

// OperatorAuthFailure counts a call with a wrong operator token.
func (r *Registry) OperatorAuthFailure(endpoint string) {
	if r != nil {
		r.authFailures.WithLabelValues(endpoint).Inc()
	}
}

// Event counts a sign-up event.
func (r *Registry) Event(e signup.Event) {
	if r != nil {
		r.events.WithLabelValues(string(e)).Inc()
	}
}

// Erased counts a sign-up whose personal data was erased.
func (r *Registry) Erased(trigger string) {
	if r != nil {
		r.erased.WithLabelValues(trigger).Inc()
	}
}

// Handler serves the registry in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// Temporal returns a metrics handler for the Temporal SDK that reports into
// this registry (temporal_* series), and a closer to stop it.
func (r *Registry) Temporal() (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{Registerer: r.reg})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
	}, time.Second)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}

// WatchStatuses adds a gauge of sign-ups by status, read from the read
// model at each scrape.
func (r *Registry) WatchStatuses(db *gorm.DB) {
	r.reg.MustRegister(&statusCollector{signups: signup.NewStore(db), desc: prometheus.NewDesc("onboarding_signups",
		"Sign-ups by status (from the read model).", []string{"status"}, nil)})
}

type statusCollector struct {
	signups *signup.Store
	desc    *prometheus.Desc
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.signups.CountByStatus(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n.N), string(n.Status))
	}
}

type callerKey struct{}

// WithCaller names who is working in ctx (an HTTP route, an activity), so
// that database statements can be counted by caller.
func WithCaller(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, callerKey{}, name)
}

// Caller is the name WithCaller put in ctx, or "".
func Caller(ctx context.Context) string {
	s, _ := ctx.Value(callerKey{}).(string)
	return s
}

// CountStatements counts every database statement GORM runs, by caller
// (onboarding_db_statements_total{caller}); name finds the caller of a
// statement's context.
func (r *Registry) CountStatements(db *gorm.DB, name func(context.Context) string) error {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "onboarding_db_statements_total",
		Help: "Database statements by caller (HTTP route or activity).",
	}, []string{"caller"})
	if err := r.reg.Register(c); err != nil {
		return err
	}
	count := func(tx *gorm.DB) {
		caller := "other"
		if tx.Statement != nil && tx.Statement.Context != nil {
			if n := name(tx.Statement.Context); n != "" {
				caller = n
			}
		}
		c.WithLabelValues(caller).Inc()
	}
	return OnStatement(db, "onboarding", count)
}

// OnStatement calls f after every statement GORM runs on db (creates,
// queries, updates, deletes, row and raw statements), as the callbacks
// prefix:count_*: what CountStatements counts, and the tests' counters.
func OnStatement(db *gorm.DB, prefix string, f func(*gorm.DB)) error {
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register(prefix+":count_create", f),
		cb.Query().After("gorm:query").Register(prefix+":count_query", f),
		cb.Update().After("gorm:update").Register(prefix+":count_update", f),
		cb.Delete().After("gorm:delete").Register(prefix+":count_delete", f),
		cb.Row().After("gorm:row").Register(prefix+":count_row", f),
		cb.Raw().After("gorm:raw").Register(prefix+":count_raw", f),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
