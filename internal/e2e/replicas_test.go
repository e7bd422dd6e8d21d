package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/outbox"
	"github.com/kcloud/onboarding/internal/ratelimit"
	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

// replica serves a second (third…) API over the stack's database and
// Temporal client, with nothing else in common: its own rate-limit buckets
// and codec server, as another process would have.
func (s *stack) replica(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s.rt.API(s.db, s.temporal, nil).Handler())
	t.Cleanup(srv.Close)
	return srv
}

// An operator logs in to the codec server on one api replica; the Temporal
// UI's next decode request reaches the other, which knows the login. An
// expired login decodes nothing.
func TestReplicasCodecLogin(t *testing.T) {
	s := newStack(t)
	a, b := s.replica(t), s.replica(t)
	jar := &cookieJar{}
	login := func(base, token string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, base+"/codec/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := login(a.URL, "wrong"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", res.StatusCode)
	}
	res := login(a.URL, s.codec)
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.Name == codec.CookieName {
			jar.cookie = c
		}
	}
	if jar.cookie == nil {
		t.Fatal("no codec cookie")
	}
	kr, err := codec.ParseKeyring(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := codec.DataConverter(kr).ToPayload("owner@example.com")
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{sealed}})
	decode := func(base string, c *http.Cookie) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/codec/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if c != nil {
			req.AddCookie(c)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := decode(b.URL, jar.cookie); code != 200 {
		t.Errorf("decode on the other replica with the login: %d, want 200", code)
	}
	if code := decode(b.URL, nil); code != 401 {
		t.Errorf("decode without a login: %d, want 401", code)
	}
	// A login past its expiry, as the table would hold it.
	token, hash := secret.NewToken()
	past := time.Now().UTC().Add(-time.Minute)
	if err := s.db.Exec("INSERT INTO codec_sessions (token_hash, expires_at, created_at) VALUES (?, ?, ?)", hash, past, past.Add(-8*time.Hour)).Error; err != nil {
		t.Fatal(err)
	}
	if code := decode(b.URL, &http.Cookie{Name: codec.CookieName, Value: token}); code != 401 {
		t.Errorf("decode with an expired login: %d, want 401", code)
	}
	var stored string
	if err := s.db.Raw("SELECT token_hash FROM codec_sessions WHERE token_hash = ?", secret.Hash(jar.cookie.Value)).Scan(&stored).Error; err != nil || stored == "" {
		t.Errorf("the login is not in the database by its hash: %q %v", stored, err)
	}
	var plain int64
	s.db.Raw("SELECT COUNT(*) FROM codec_sessions WHERE token_hash = ?", jar.cookie.Value).Scan(&plain)
	if plain != 0 {
		t.Error("the login token is stored in the clear")
	}
}

type cookieJar struct{ cookie *http.Cookie }

// Two relays (two api replicas, each with its own database connection)
// work the same signal outbox at once: every owed signal reaches its
// workflow exactly once, counted in the workflows' histories.
func TestReplicasOutboxOnce(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	// The second replica's own connection pool to the same database.
	db2, err := store.Open(ctx, s.cfg.DatabaseURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db2.Close() })
	const n = 40
	// Workflows that only receive: started on a task queue nobody polls,
	// their histories record each signal.
	queue := "outbox-" + uuid.NewString()
	var ids []string
	due := time.Now().UTC().Add(-time.Second)
	for i := 0; i < n; i++ {
		id := uuid.NewString()
		ids = append(ids, id)
		if _, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: signup.WorkflowID(id), TaskQueue: queue}, "OutboxReceiver"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.temporal.TerminateWorkflow(context.Background(), signup.WorkflowID(id), "", "test over") })
		row := models.SignalOutbox{ID: uuid.NewString(), SignupID: id, UserID: "u-" + id, Via: "invitation", CreatedAt: due, NextAttemptAt: due}
		if err := s.db.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
	}
	relays := []*outbox.Relay{
		outbox.New(s.db, s.temporal, slog.New(slog.DiscardHandler)),
		outbox.New(db2, s.temporal, slog.New(slog.DiscardHandler)),
	}
	sent := make([]int, len(relays))
	var wg sync.WaitGroup
	for i, r := range relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(time.Minute)
			for time.Now().Before(deadline) {
				k, err := r.RunOnce(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				sent[i] += k
				var left int64
				s.db.Model(&models.SignalOutbox{}).Count(&left)
				if left == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	// The stack's own api relays too (a third replica): together they
	// sent each row once, which the histories below count.
	if sent[0]+sent[1] == 0 || sent[0]+sent[1] > n {
		t.Errorf("relays sent %v of %d rows", sent, n)
	}
	for _, id := range ids {
		got := 0
		it := s.temporal.GetWorkflowHistory(ctx, signup.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == workflows.SignalPasswordSet {
				got++
			}
		}
		if got != 1 {
			t.Errorf("workflow %s got %d password_set signals, want 1", id, got)
		}
	}
	t.Logf("%d owed signals delivered once each; relay shares %v", n, sent)

	// A relay that died holding a row: another takes it once the lease
	// has run out, and not before.
	held := func(leaseEnds time.Time) (string, string) {
		id := uuid.NewString()
		if _, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: signup.WorkflowID(id), TaskQueue: queue}, "OutboxReceiver"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.temporal.TerminateWorkflow(context.Background(), signup.WorkflowID(id), "", "test over") })
		claim := "dead-relay"
		row := models.SignalOutbox{ID: uuid.NewString(), SignupID: id, UserID: "u", Via: "invitation", CreatedAt: due,
			NextAttemptAt: leaseEnds, ClaimToken: &claim}
		if err := s.db.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
		return id, row.ID
	}
	_, expired := held(time.Now().UTC().Add(-time.Second))
	_, live := held(time.Now().UTC().Add(models.SignalLease))
	if _, err := relays[1].RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var left []string
	s.db.Model(&models.SignalOutbox{}).Where("id IN ?", []string{expired, live}).Pluck("id", &left)
	if len(left) != 1 || left[0] != live {
		t.Errorf("rows left after a relay's round: %v, want only the one still leased (%s)", left, live)
	}
}

// redisURL is the Redis the rate-limit test counts in (its own database
// number and a fresh key prefix per run).
func redisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/11"
}

// With two api replicas a client's calls are counted together when the
// limits live in PostgreSQL (the application database) or Redis; in
// memory each replica counts alone.
func TestReplicasRateLimitsShared(t *testing.T) {
	s := newStack(t)
	s.rt.Cfg.RateLimits = "on"
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		open      func(t *testing.T) ratelimit.Store
		perReplic bool
	}{
		{"memory", func(*testing.T) ratelimit.Store { return nil }, true},
		{"database", func(*testing.T) ratelimit.Store { return ratelimit.NewSQL(s.db.DB, string(s.db.Dialect)) }, false},
		{"redis", func(t *testing.T) ratelimit.Store {
			rs, err := ratelimit.OpenRedis(ctx, redisURL(), "onboarding-test-"+uuid.NewString()+":")
			if err != nil {
				if os.Getenv("CI_REQUIRE_REDIS") == "1" {
					t.Fatal(err)
				}
				t.Skip(err)
			}
			t.Cleanup(func() { _ = rs.Close() })
			return rs
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "database" {
				// A fresh table per case: other cases' buckets are not ours.
				s.db.Exec("DELETE FROM rate_limits")
			}
			s.rt.RateLimits = tc.open(t)
			a, b := s.replica(t), s.replica(t)
			// Sign-in lookups: 30 at once per address, then one every 2 s.
			const burst = 30
			allowed := 0
			start := time.Now()
			for i := 0; i < 2*burst+10; i++ {
				base := a.URL
				if i%2 == 1 {
					base = b.URL
				}
				res, err := http.Post(base+"/api/v1/console/organizations/lookup", "application/json",
					strings.NewReader(fmt.Sprintf(`{"organization_name":"nobody-%d"}`, i)))
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusTooManyRequests:
					if res.Header.Get("Retry-After") == "" {
						t.Error("429 without Retry-After")
					}
				default:
					allowed++
				}
			}
			refills := int(time.Since(start)/(2*time.Second)) + 1
			want := burst
			if tc.perReplic {
				want = 2 * burst
			}
			if allowed < want || allowed > want+refills*2 {
				t.Errorf("%d calls allowed across two replicas, want %d (+ at most %d refilled)", allowed, want, refills*2)
			}
			t.Logf("%s: %d of %d calls allowed across two replicas in %s", tc.name, allowed, 2*burst+10, time.Since(start).Round(time.Millisecond))
		})
	}
}
