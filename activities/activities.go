// Package activities holds the side effects of a sign-up: verifying the
// business number, reserving the organization name, provisioning the owner,
// mailing invitations. Each activity is idempotent, keyed by the sign-up id,
// so a retry after a crash never creates a second row or reservation.
package activities

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/mailer"
	"github.com/kcloud/onboarding/internal/nts"
	"github.com/kcloud/onboarding/internal/retention"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
)

// Activities carries the dependencies of the activities. Register one value
// with the worker; workflows refer to the methods through a nil pointer.
type Activities struct {
	db            *store.DB
	signups       *signup.Store
	mail          mailer.Sender
	nts           *nts.Client // nil: checksum only
	ntsCacheTTL   time.Duration
	publicBaseURL string
	resetTokenTTL time.Duration
	now           func() time.Time
	log           *slog.Logger
	events        func(signup.Event)
	certs         *certstore.Store
	eraser        *retention.Eraser
	temporal      client.Client
	namespace     string
	// maxOpenPerBusiness bounds the unsubmitted sign-ups per verified
	// business number (0: no bound).
	maxOpenPerBusiness int
}

// Deps are what New needs.
type Deps struct {
	DB            *store.DB
	Mailer        mailer.Sender
	NTS           *nts.Client // nil when NTS_SERVICE_KEY is unset
	NTSCacheTTL   time.Duration
	PublicBaseURL string
	ResetTokenTTL time.Duration
	Now           func() time.Time // defaults to time.Now
	Log           *slog.Logger
	// Events counts sign-up events for metrics (started, submitted, …).
	Events func(event signup.Event)
	// Certificates is the certificate store (sealed objects and their rows).
	Certificates *certstore.Store
	// Eraser erases ended sign-ups' personal data (the purge workflow).
	Eraser *retention.Eraser
	// Temporal, when set, is where erased sign-ups' closed workflows are
	// deleted from (in Namespace).
	Temporal  client.Client
	Namespace string
	// MaxOpenPerBusiness is MAX_OPEN_SIGNUPS_PER_BUSINESS (0: no bound).
	MaxOpenPerBusiness int
}

// New returns the activities over d.
func New(d Deps) *Activities {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Events == nil {
		d.Events = func(signup.Event) {}
	}
	return &Activities{
		db: d.DB, signups: signupStore(d.DB), mail: d.Mailer, nts: d.NTS, ntsCacheTTL: d.NTSCacheTTL,
		publicBaseURL: strings.TrimRight(d.PublicBaseURL, "/"), resetTokenTTL: d.ResetTokenTTL,
		now: func() time.Time { return d.Now().UTC() }, log: d.Log, events: d.Events,
		certs: d.Certificates, eraser: d.Eraser, temporal: d.Temporal, namespace: d.Namespace,
		maxOpenPerBusiness: d.MaxOpenPerBusiness,
	}
}

func signupStore(db *store.DB) *signup.Store {
	if db == nil {
		return nil
	}
	return signup.NewStore(db.DB)
}

func newID() string { return uuid.NewString() }

// permanent returns a non-retryable application error of the given type.
func permanent(code, msg string, cause error) error {
	return temporal.NewNonRetryableApplicationError(msg, code, cause)
}

func ptr[T any](v T) *T { return &v }

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// keepAlive records a heartbeat every third of the activity's heartbeat
// timeout until stop is called (the SDK batches them, sending at most one
// per 0.8 of the timeout), so that Temporal notices a dead worker within
// that timeout rather than the start-to-close one. stop returns once the
// heartbeating goroutine has ended. Activities scheduled without a
// heartbeat timeout (sign-ups started before it was set), and calls outside
// an activity, need none.
func keepAlive(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	every := activity.GetInfo(ctx).HeartbeatTimeout / 3
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() {
		close(done)
		<-ended
	}
}
