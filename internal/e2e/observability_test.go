package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/signup"
)

var exporters sync.Map // *testing.T → *tracetest.InMemoryExporter

// traced makes newStack trace into an in-memory exporter.
func traced(t *testing.T) *tracetest.InMemoryExporter {
	exp := tracetest.NewInMemoryExporter()
	exporters.Store(t, exp)
	return exp
}

func exporterOf(t *testing.T) *tracetest.InMemoryExporter {
	if e, ok := exporters.Load(t); ok {
		return e.(*tracetest.InMemoryExporter)
	}
	return nil
}

// rawHistory is the workflow's history as Temporal stores it.
func rawHistory(t *testing.T, s *stack, id string) *historypb.History {
	t.Helper()
	var h historypb.History
	var token []byte
	for {
		resp, err := s.temporal.WorkflowService().GetWorkflowExecutionHistory(context.Background(), &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace: s.cfg.TemporalNamespace, Execution: &commonpb.WorkflowExecution{WorkflowId: signup.WorkflowID(id)},
			MaximumPageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, resp.History.GetEvents()...)
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	return &h
}

func TestHistoryHoldsNoPersonalData(t *testing.T) {
	s := newStack(t)
	j := s.start(t)
	j.wizard(t, "private-co")
	j.waitStatus(t, "invited", 10*time.Second)
	h := rawHistory(t, s, j.id)
	// Every payload of the history (search attributes aside) is sealed, and
	// no byte of the history carries the personal data in the clear.
	var sealed []*commonpb.Payload
	err := proxy.VisitPayloads(context.Background(), h, proxy.VisitPayloadsOptions{
		SkipSearchAttributes: true,
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			for _, p := range ps {
				if string(p.GetMetadata()["encoding"]) != "binary/encrypted" {
					t.Errorf("a payload is not encrypted: %v %q", p.GetMetadata(), p.GetData())
				} else {
					sealed = append(sealed, p)
				}
			}
			return ps, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 {
		t.Fatal("no payloads in the history")
	}
	raw, err := proto.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{j.email, "+821012345678", "010-1234-5678", "Lee Ji-eun", "Acme Korea", "billing@example.com", "Pangyo-ro"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("history holds %q in the clear", secret)
		}
	}

	// The codec server decodes for operators with the token, not without.
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: sealed[:1]})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		token  string
		status int
	}{{"", 401}, {"wrong", 401}, {s.codec, 200}} {
		req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/codec/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Fatalf("decode with %q: %d %s", tt.token, res.StatusCode, out)
		}
		if tt.status == 200 {
			var decoded commonpb.Payloads
			if err := protojson.Unmarshal(out, &decoded); err != nil || len(decoded.Payloads) != 1 ||
				string(decoded.Payloads[0].GetMetadata()["encoding"]) == "binary/encrypted" {
				t.Errorf("decode answered %s (%v)", out, err)
			}
		}
	}
}

func TestMetricsMove(t *testing.T) {
	s := newStack(t)
	j := s.start(t)
	j.wizard(t, "metric-co")
	tok := s.link(t, j.email, "invitations", 10*time.Second)
	expect(t, "accept", s.call(http.MethodPost, "/api/v1/invitations/"+tok+"/accept", "", map[string]string{"password": goodPassword}), 200, "")
	j.waitStatus(t, "active", 10*time.Second)
	wants := []string{
		`onboarding_signup_events_total{event="started"} 1`,
		`onboarding_signup_events_total{event="submitted"} 1`,
		`onboarding_signup_events_total{event="invited"} 1`,
		`onboarding_signup_events_total{event="active"} 1`,
		`onboarding_signups{status="active"} 1`,
		`onboarding_http_request_duration_seconds_count{method="POST",route="/api/v1/signups",status="201"} 1`,
		`temporal_workflow_completed`,
		`temporal_activity_execution_latency`,
	}
	// The read model says active before the workflow's last task completes,
	// so the SDK's workflow counters may lag by a task: poll for a while.
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		res, err := http.Get(s.http.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		missing = missing[:0]
		for _, want := range wants {
			if !strings.Contains(string(raw), want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range missing {
		t.Errorf("/metrics lacks %s", want)
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	s := newStack(t, func(c *config.Config) { c.LogLevel = "capture" })
	j := s.start(t)
	j.wizard(t, "quiet-co")
	tok := s.link(t, j.email, "invitations", 10*time.Second)
	expect(t, "weak", s.call(http.MethodPost, "/api/v1/invitations/"+tok+"/accept", "", map[string]string{"password": "Weakling1"}), 422, "weak_password")
	expect(t, "accept", s.call(http.MethodPost, "/api/v1/invitations/"+tok+"/accept", "", map[string]string{"password": goodPassword}), 200, "")
	sess := s.call(http.MethodPost, "/api/v1/console/sessions", "", map[string]string{"organization_name": "quiet-co", "email": j.email, "password": goodPassword})
	expect(t, "sign in", sess, 201, "")
	expect(t, "wrong", s.call(http.MethodPost, "/api/v1/console/sessions", "", map[string]string{"organization_name": "quiet-co", "email": j.email, "password": "Wrong!Pass42"}), 401, "")
	expect(t, "reset", s.call(http.MethodPost, "/api/v1/password-resets", "", map[string]string{"organization_name": "quiet-co", "email": j.email}), 202, "")
	reset := s.link(t, j.email, "password-reset", 10*time.Second)
	expect(t, "confirm", s.call(http.MethodPost, "/api/v1/password-resets/"+reset+"/confirm", "", map[string]string{"password": "Fresh!Pass42"}), 200, "")
	s.smtp.Refuse(550, "no")
	k := s.start(t)
	expect(t, "bad verify", s.call(http.MethodPost, k.path("/business-number/verify"), k.token, `{"business_number":"220-81-62518"}`), 422, "")
	logs := logsOf(t)
	if len(logs) < 500 {
		t.Fatalf("too few logs captured (%d bytes) for the check to mean anything", len(logs))
	}
	for _, secret := range []string{goodPassword, "Fresh!Pass42", "Wrong!Pass42", "Weakling1", j.token, k.token, tok, reset,
		sess.str("session_token"), "2208162517", "220-81-62517", "220-81-62518", s.admin, s.codec} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold %q", secret)
		}
	}
	if !strings.Contains(logs, `"request_id"`) || !strings.Contains(logs, `"signup_id":"`+j.id+`"`) {
		t.Error("logs lack request and sign-up ids")
	}
}

func TestTraceFromRequestToActivities(t *testing.T) {
	exp := traced(t)
	s := newStack(t)
	j := s.start(t)
	j.wizard(t, "traced-co")
	j.waitStatus(t, "invited", 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	spans := exp.GetSpans()
	traceOf := func(name string) map[string]bool {
		var id string
		for _, sp := range spans {
			if sp.Name == name {
				id = sp.SpanContext.TraceID().String()
			}
		}
		in := map[string]bool{}
		for _, sp := range spans {
			if id != "" && sp.SpanContext.TraceID().String() == id {
				in[sp.Name] = true
			}
		}
		return in
	}
	// The request that starts the sign-up carries the workflow's own trace:
	// the run, its provisioning and the invitation (step 1 is saved by the
	// request itself, no activity).
	start := traceOf("POST /api/v1/signups")
	for _, want := range []string{"StartWorkflow:Signup", "RunActivity:ProvisionAndInvite"} {
		if !start[want] {
			t.Errorf("the create request's trace lacks %s; it has %v", want, start)
		}
	}
	// Each step's request traces through its Update into its activities.
	verify := traceOf("POST /api/v1/signups/:id/business-number/verify")
	for _, want := range []string{"UpdateWorkflow:verify_business_number", "HandleUpdate:verify_business_number", "RunActivity:VerifyBusinessNumber"} {
		if !verify[want] {
			t.Errorf("the verify request's trace lacks %s; it has %v", want, verify)
		}
	}
}

func TestRateLimitsAndHeaders(t *testing.T) {
	s := newStack(t, func(c *config.Config) {
		c.RateLimits = "on"
		c.CORSAllowedOrigins = []string{"https://front.example.com"}
	})
	j := s.start(t)
	var last response
	for i := 0; i < 12; i++ {
		last = s.call(http.MethodPost, j.path("/business-number/verify"), j.token, `{"business_number":"220-81-62517"}`)
		if last.status == http.StatusTooManyRequests {
			break
		}
	}
	expect(t, "verify flood", last, http.StatusTooManyRequests, "rate_limited")

	req, _ := http.NewRequest(http.MethodGet, s.http.URL+"/signup?lang=en", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for h, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'", "X-Frame-Options": "DENY",
		"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
	} {
		if !strings.Contains(res.Header.Get(h), want) {
			t.Errorf("page header %s = %q, want %q", h, res.Header.Get(h), want)
		}
	}
	pre, _ := http.NewRequest(http.MethodOptions, s.http.URL+"/api/v1/signups", nil)
	pre.Header.Set("Origin", "https://front.example.com")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	res, err = http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "https://front.example.com" {
		t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
	}
	pre.Header.Set("Origin", "https://evil.example.com")
	res, _ = http.DefaultClient.Do(pre)
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS allowed an unknown origin")
	}
}
