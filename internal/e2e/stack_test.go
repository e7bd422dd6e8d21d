// Package e2e drives the whole service through HTTP: the API and the worker
// against an embedded Temporal server (the same one `onboarding dev` runs),
// the database at TEST_DATABASE_URL (else SQLite) and SMTP on the wire.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/devserver"
	"github.com/kcloud/onboarding/internal/freeport"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/internal/tracing"
	"github.com/kcloud/onboarding/workflows"
)

// temporalAddr is the embedded server all tests share; each test has its
// own task queue, database schema and SMTP server.
var temporalAddr string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "onboarding-e2e-")
	if err != nil {
		panic(err)
	}
	port, err := freeport.On("127.0.0.1")
	if err != nil {
		panic(err)
	}
	srv, err := devserver.Start(context.Background(), devserver.Options{
		DataDir:          dir,
		FrontendAddr:     "127.0.0.1:" + strconv.Itoa(port),
		Namespace:        "default",
		SearchAttributes: workflows.SearchAttributeNames,
		Log:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: embedded Temporal:", err)
		os.Exit(1)
	}
	temporalAddr = srv.FrontendAddr()
	code := m.Run()
	srv.Stop()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// stack is one running service.
type stack struct {
	t        *testing.T
	cfg      config.Config
	db       *store.DB
	temporal client.Client
	box      *mailbox.Store
	smtp     *mailbox.Server
	http     *httptest.Server
	rt       *app.Runtime
	// admin and codec are the operator tokens (ADMIN_TOKEN, CODEC_TOKEN):
	// random, as the service refuses weak ones outside dev.
	admin, codec string
	// xff, when set, is sent as X-Forwarded-For: the client the API sees
	// when it trusts the loopback proxy (see as).
	xff string
}

// as is the stack as seen from another client address (the stack must
// trust 127.0.0.1 as a proxy), reporting failures to t: per-client limits
// count each probe apart.
func (s *stack) as(t *testing.T, ip string) *stack {
	c := *s
	c.t, c.xff = t, ip
	return &c
}

// testKeys encrypt the tests' payloads.
var testKeys = codec.NewKeySpec("test")

// newStack starts a worker and an API on their own task queue and
// database, with the configuration tweaked by opts.
func newStack(t *testing.T, opts ...func(*config.Config)) *stack {
	t.Helper()
	box, _ := mailbox.Open("")
	smtpSrv, err := mailbox.Listen("127.0.0.1:0", box, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = smtpSrv.Close() })
	host, portStr, _ := net.SplitHostPort(smtpSrv.Addr())
	port, _ := strconv.Atoi(portStr)

	t.Setenv("DATABASE_URL", storetest.URL(t))
	t.Setenv("DATA_DIR", t.TempDir()) // where the certificate store is, by default
	// Not the developer's own Temporal CLI profile or Cloud settings.
	for _, k := range []string{"TEMPORAL_PROFILE", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS",
		"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
		"TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_KEY_DATA", "TEMPORAL_TLS_SERVER_CA_CERT_DATA", "TEMPORAL_TLS_SERVER_NAME"} {
		t.Setenv(k, "")
	}
	t.Setenv("TEMPORAL_CONFIG_FILE", os.DevNull)
	t.Setenv("TEMPORAL_ADDRESS", temporalAddr)
	t.Setenv("TEMPORAL_TASK_QUEUE", "e2e-"+uuid.NewString())
	t.Setenv("SMTP_HOST", host)
	t.Setenv("SMTP_PORT", strconv.Itoa(port))
	adminToken, _ := secret.NewToken()
	codecToken, _ := secret.NewToken()
	t.Setenv("ADMIN_TOKEN", adminToken)
	t.Setenv("CODEC_TOKEN", codecToken)
	t.Setenv("PAYLOAD_ENCRYPTION_KEYS", testKeys)
	// The API listens before it is built, so that the links it mails point at it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PUBLIC_BASE_URL", "http://"+ln.Addr().String())
	cfg, err := config.Load(config.ModeWorker)
	if err != nil {
		t.Fatal(err)
	}
	if k := os.Getenv("RECORD_PAYLOAD_KEYS"); k != "" {
		// The recorder's fixed key, which the replay test knows: a sample
		// value the service refuses at start, so it is put in after.
		cfg.PayloadKeys = k
	}
	// Limits are off unless a test turns them on: the tests drive many
	// sign-ups of one business number from one address.
	cfg.RateLimits = "off"
	cfg.MaxOpenSignupsPerBusiness = 0
	var logs io.Writer
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.LogLevel == "capture" {
		logs, cfg.LogLevel = captured(t), "debug"
	}
	spans := exporterOf(t)
	ctx := context.Background()
	rt, err := app.New(ctx, cfg, config.ModeWorker)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	if spans != nil {
		rt.Tracing = tracing.WithExporter(spans, "onboarding-test")
	}
	// Warnings and errors are kept, and shown when the test fails.
	var warnings logBuffer
	rt.Log = slog.New(slog.NewTextHandler(&warnings, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t.Cleanup(func() {
		if t.Failed() {
			w := warnings.String()
			// The last 8000 bytes, without a rune cut in two.
			t.Logf("service warnings and errors:\n%s", strings.ToValidUTF8(w[max(0, len(w)-8000):], ""))
		}
	})
	if logs != nil {
		rt.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	db, err := rt.OpenDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	c, err := rt.Dial(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	w := rt.Worker(c, rt.Activities(db))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	s := &stack{t: t, cfg: cfg, db: db, temporal: c, box: box, smtp: smtpSrv, rt: rt, admin: cfg.AdminToken, codec: cfg.CodecToken}
	apiSrv := rt.API(db, c, box)
	relayCtx, stopRelay := context.WithCancel(context.Background())
	go apiSrv.RunOutbox(relayCtx)
	t.Cleanup(stopRelay)
	s.http = &httptest.Server{Listener: ln, Config: &http.Server{Handler: apiSrv.Handler()}}
	s.http.Start()
	t.Cleanup(s.http.Close)
	return s
}

// response is an HTTP answer with its JSON body decoded.
type response struct {
	status int
	body   map[string]any
	raw    string
}

func (r response) str(path ...string) string {
	v := r.get(path...)
	s, _ := v.(string)
	return s
}

func (r response) get(path ...string) any {
	var v any = r.body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func (r response) code() string { return r.str("error", "code") }

// call sends a JSON request; body may be a string (sent as is) or a value.
func (s *stack) call(method, path, token string, body any) response {
	s.t.Helper()
	return s.callWithKey(method, path, token, body, "")
}

// callWithKey is call with an Idempotency-Key.
func (s *stack) callWithKey(method, path, token string, body any, key string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req := s.request(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return s.do(req)
}

// request is a request with the stack's client address.
func (s *stack) request(method, path string, body io.Reader) *http.Request {
	s.t.Helper()
	req, err := http.NewRequest(method, s.http.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if s.xff != "" {
		req.Header.Set("X-Forwarded-For", s.xff)
	}
	return req
}

func (s *stack) do(req *http.Request) response {
	s.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (s *stack) upload(id, token, filename string, data []byte) response {
	s.t.Helper()
	return s.uploadWithKey(id, token, filename, data, "")
}

// uploadWithKey is upload with an Idempotency-Key (none when empty).
func (s *stack) uploadWithKey(id, token, filename string, data []byte, key string) response {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req := s.request(http.MethodPost, "/api/v1/signups/"+id+"/certificate", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return s.do(req)
}

func expect(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		t.Fatalf("%s: HTTP %d %s, want %d %s", what, r.status, r.raw, status, code)
	}
}

// journey is one sign-up driven through the API.
type journey struct {
	s     *stack
	id    string
	token string
	org   string
	email string
}

var pdf = []byte("%PDF-1.4\n% test certificate\n")

func (s *stack) start(t *testing.T) *journey {
	t.Helper()
	r := s.call(http.MethodPost, "/api/v1/signups", "", map[string]any{"accepted_terms": []string{"service", "privacy"}})
	expect(t, "create", r, http.StatusCreated, "")
	if r.str("status") != "user_info" || len(r.str("signup_token")) < 22 {
		t.Fatalf("create: %s", r.raw)
	}
	return &journey{s: s, id: r.str("signup_id"), token: r.str("signup_token")}
}

func userInfo() map[string]any {
	return map[string]any{
		"business_number": "2208162517", "billing_email": "billing@example.com", "company_name": "Acme Korea",
		"representative_name": "Kim Min-su", "representative_phone": "02-123-4567", "address": "Pangyo-ro 235",
		"business_type": "Service", "business_category": "Software",
	}
}

func (j *journey) path(p string) string { return "/api/v1/signups/" + j.id + p }

// wizard completes every step and submits.
func (j *journey) wizard(t *testing.T, org string) {
	t.Helper()
	s := j.s
	j.org, j.email = org, "owner@"+org+".example.com"
	expect(t, "certificate", s.upload(j.id, j.token, "cert.pdf", pdf), http.StatusCreated, "")
	expect(t, "verify", s.call(http.MethodPost, j.path("/business-number/verify"), j.token, map[string]any{"business_number": "220-81-62517"}), http.StatusOK, "")
	expect(t, "user-info", s.call(http.MethodPut, j.path("/user-info"), j.token, userInfo()), http.StatusOK, "")
	r := s.call(http.MethodGet, "/api/v1/organization-names/"+org+"/availability", "", nil)
	if r.get("available") != true {
		t.Fatalf("availability: %s", r.raw)
	}
	expect(t, "organization", s.call(http.MethodPut, j.path("/organization"), j.token, map[string]any{
		"organization_name": org, "contact_name": "Lee Ji-eun", "contact_email": j.email, "mobile_phone": "010-1234-5678",
	}), http.StatusOK, "")
	r = s.call(http.MethodPost, j.path("/submit"), j.token, nil)
	expect(t, "submit", r, http.StatusAccepted, "")
	if r.str("status") != "provisioning" {
		t.Fatalf("submit: %s", r.raw)
	}
}

// waitStatus polls the sign-up's read model until the status is want, and
// returns the sign-up as the admin API shows it (the sign-up's own token
// ends once it is active, cancelled or abandoned; on a stack without
// ADMIN_TOKEN, as GET /signups/{id} does).
func (j *journey) waitStatus(t *testing.T, want string, within time.Duration) response {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var status string
		if err := j.s.db.Raw("SELECT status FROM signups WHERE id = ?", j.id).Scan(&status).Error; err != nil {
			t.Fatal(err)
		}
		if status == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %q after %s, want %q", status, within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if j.s.admin == "" {
		return j.s.call(http.MethodGet, j.path(""), j.token, nil)
	}
	return j.s.call(http.MethodGet, "/api/v1/admin/signups/"+j.id, j.s.admin, nil)
}

var linkRe = regexp.MustCompile(`/(invitations|password-reset)/([A-Za-z0-9_-]{43})`)

// link returns the token of the newest mail to email whose link is of kind.
func (s *stack) link(t *testing.T, email, kind string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, m := range s.box.List() {
			if len(m.To) == 0 || m.To[0] != email {
				continue
			}
			if mm := linkRe.FindStringSubmatch(m.Text); mm != nil && mm[1] == kind {
				return mm[2]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s mail to %s within %s", kind, email, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *stack) mailsTo(email string) int {
	n := 0
	for _, m := range s.box.List() {
		if len(m.To) > 0 && m.To[0] == email {
			n++
		}
	}
	return n
}
