// Package bench is the load generator: simulated people going through the
// whole sign-up over HTTP (terms, certificate, Verify, user information,
// Check, organization, submit, the invitation from the mailbox, the
// password, sign-in), the same-shape no-op workflow through the same
// Temporal server as the engine's ceiling, and the engine's plain cost.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kcloud/onboarding/internal/bizno"
)

// Options of a run.
type Options struct {
	BaseURL     string
	MailboxURL  string // where GET /dev/mailbox?to= answers; defaults to BaseURL
	Concurrency int
	Count       int           // sign-ups in all; 0 runs for Duration
	Duration    time.Duration // with Count 0
	ThinkMin    time.Duration // pause between steps, drawn in [ThinkMin, ThinkMax]
	ThinkMax    time.Duration
	Park        bool // stop each sign-up once invited (to park waiting sign-ups)
	PIDs        []int
	Progress    io.Writer
	HTTP        *http.Client
	RunID       string // makes names unique across runs
	Pollers     int    // workflow-task pollers of the no-op worker (as WORKER_POLLERS)
	// MetricsURLs are the servers' Prometheus endpoints, to count database
	// statements per sign-up (default: BaseURL/metrics).
	MetricsURLs []string
	// Retry is how many times a person tries a step again after a 5xx or a
	// broken connection, a second apart, with the same Idempotency-Key (as
	// a front end would while the service recovers from a fault).
	Retry int
	// MailWait is how long a person waits for the invitation in GET
	// /dev/mailbox after submit before giving the sign-up up as failed
	// (0: two minutes, for callers that park thousands; the command's
	// --mail-wait defaults to DefaultMailWait).
	MailWait time.Duration
	// Done, when set, receives each finished sign-up (for fault tests).
	Done func(Outcome)
}

// Outcome is how one simulated sign-up ended.
type Outcome struct {
	SignupID string
	Email    string
	Org      string
	OK       bool
	Step     string // where it failed
	Reason   string // why: the error code, or what the mailbox did
}

// DefaultMailWait is how long `onboarding bench` waits for an invitation
// unless told otherwise (--mail-wait).
const DefaultMailWait = 30 * time.Second

// Stats are latencies in milliseconds.
type Stats struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Result of a run.
type Result struct {
	Kind        string           `json:"kind"` // signup, noop or engine
	Concurrency int              `json:"concurrency"`
	ThinkMinMS  int64            `json:"think_min_ms"`
	ThinkMaxMS  int64            `json:"think_max_ms"`
	Started     int              `json:"started"`
	Completed   int              `json:"completed"`
	Failed      int              `json:"failed"`
	Seconds     float64          `json:"seconds"`
	PerSecond   float64          `json:"completed_per_second"`
	Steps       map[string]Stats `json:"steps"`
	WizardSteps Stats            `json:"wizard_steps"` // every step a person waits on, together
	Errors      map[string]int   `json:"errors"`
	// FailedBy counts failed sign-ups by "step: reason" (each failed
	// sign-up once, at the step where it stopped).
	FailedBy  map[string]int `json:"failed_by_reason,omitempty"`
	MailWaitS float64        `json:"mail_wait_s,omitempty"`
	Processes []Process      `json:"processes,omitempty"`
	// Statements per completed sign-up, by caller (HTTP route or activity).
	Statements map[string]float64 `json:"db_statements_per_signup,omitempty"`
	// LocalCPUSeconds is this process's CPU during the run (for the no-op:
	// its worker and the client driving it).
	LocalCPUSeconds float64 `json:"bench_process_cpu_seconds,omitempty"`
	// SignupIDs are the completed sign-ups, in the order they completed.
	SignupIDs []string `json:"-"`
	// History is the events per sign-up read from a sample of their
	// workflow histories after the run (SampleHistories).
	History *Histories `json:"history_events_per_signup,omitempty"`
}

// WizardSteps are the calls a person waits on in the wizard.
var WizardSteps = []string{"create", "certificate", "verify", "user_info", "check_name", "organization", "submit"}

// recorder collects latencies and errors from the workers.
type recorder struct {
	mu       sync.Mutex
	steps    map[string][]time.Duration
	errors   map[string]int
	failedBy map[string]int
}

func newRecorder() *recorder {
	return &recorder{steps: map[string][]time.Duration{}, errors: map[string]int{}, failedBy: map[string]int{}}
}

// failed counts a sign-up that stopped at step for reason.
func (r *recorder) failed(step, reason string) {
	r.mu.Lock()
	r.failedBy[step+": "+reason]++
	r.mu.Unlock()
}

func (r *recorder) add(step string, d time.Duration) {
	r.mu.Lock()
	r.steps[step] = append(r.steps[step], d)
	r.mu.Unlock()
}

// retry counts a request tried again after an answer with code (or none:
// "transport").
func (r *recorder) retry(step, code string) {
	r.mu.Lock()
	r.errors[step+": "+code+" (retried)"]++
	r.mu.Unlock()
}

func (r *recorder) fail(step, code string) {
	r.mu.Lock()
	r.errors[step+": "+code]++
	r.mu.Unlock()
}

// Summarize computes latency statistics.
func Summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) float64 {
		i := int(p*float64(len(s))+0.5) - 1
		i = max(0, min(i, len(s)-1))
		return ms(s[i])
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Stats{Count: len(s), Mean: ms(sum / time.Duration(len(s))), P50: q(.50), P95: q(.95), P99: q(.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *recorder) result(kind string, o Options, started, completed, failed int, elapsed time.Duration) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{Kind: kind, Concurrency: o.Concurrency, ThinkMinMS: o.ThinkMin.Milliseconds(), ThinkMaxMS: o.ThinkMax.Milliseconds(),
		Started: started, Completed: completed, Failed: failed, Seconds: elapsed.Seconds(),
		Steps: map[string]Stats{}, Errors: r.errors}
	if len(r.failedBy) > 0 {
		res.FailedBy = r.failedBy
	}
	if elapsed > 0 {
		res.PerSecond = float64(completed) / elapsed.Seconds()
	}
	var wizard []time.Duration
	for name, ds := range r.steps {
		res.Steps[name] = Summarize(ds)
		if slices.Contains(WizardSteps, name) {
			wizard = append(wizard, ds...)
		}
	}
	res.WizardSteps = Summarize(wizard)
	return res
}

// driver runs jobs on Concurrency workers until Count jobs or Duration.
func drive(ctx context.Context, o Options, bar func(), job func(ctx context.Context, n int) bool) (started, completed, failed int, elapsed time.Duration) {
	var next, ok, bad atomic.Int64
	deadline := time.Now().Add(o.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := int(next.Add(1))
				if o.Count > 0 && n > o.Count {
					return
				}
				if o.Count == 0 && time.Now().After(deadline) {
					return
				}
				if job(ctx, n) {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
				bar()
			}
		}()
	}
	wg.Wait()
	return int(ok.Load() + bad.Load()), int(ok.Load()), int(bad.Load()), time.Since(start)
}

// Run drives sign-ups through the API.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Concurrency < 1 {
		return nil, errors.New("bench: concurrency must be at least 1")
	}
	if o.Count == 0 && o.Duration == 0 {
		return nil, errors.New("bench: give a count or a duration")
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency * 2}}
	}
	if o.MailboxURL == "" {
		o.MailboxURL = o.BaseURL
	}
	if o.MailWait <= 0 {
		o.MailWait = 2 * time.Minute
	}
	if o.RunID == "" {
		o.RunID = strconv.FormatInt(time.Now().Unix()%1_000_000, 36) + strconv.Itoa(rand.IntN(1000))
	}
	if err := ready(ctx, o); err != nil {
		return nil, err
	}
	if len(o.MetricsURLs) == 0 {
		o.MetricsURLs = []string{o.BaseURL + "/metrics"}
	}
	rec := newRecorder()
	bar := progress(o, "sign-ups", "sign-ups")
	before := statements(ctx, o.HTTP, o.MetricsURLs)
	var (
		idsMu sync.Mutex
		ids   []string
	)
	done := o.Done
	o.Done = func(out Outcome) {
		if out.OK {
			idsMu.Lock()
			ids = append(ids, out.SignupID)
			idsMu.Unlock()
		}
		if done != nil {
			done(out)
		}
	}
	sampler := newSampler(o.PIDs)
	cpu0 := processCPU()
	started, completed, failed, elapsed := drive(ctx, o, bar.add, func(ctx context.Context, n int) bool {
		return (&person{o: o, rec: rec, n: n}).journey(ctx)
	})
	bar.finish()
	res := rec.result("signup", o, started, completed, failed, elapsed)
	res.LocalCPUSeconds = (processCPU() - cpu0).Seconds()
	res.SignupIDs = ids
	res.MailWaitS = o.MailWait.Seconds()
	res.Processes = sampler.stop()
	res.Statements = perSignup(before, statements(ctx, o.HTTP, o.MetricsURLs), completed)
	return res, nil
}

func ready(ctx context.Context, o Options) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.BaseURL+"/readyz", nil)
	res, err := o.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("bench: %s is not reachable: %w", o.BaseURL, err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("bench: %s/readyz answered %d", o.BaseURL, res.StatusCode)
	}
	return nil
}

// person is one simulated front end.
type person struct {
	o      Options
	rec    *recorder
	n      int
	token  string
	reason string // the last failure's code
}

// fail records a failed request (or wait) at step, and remembers why.
func (p *person) fail(step, code string) {
	p.reason = code
	p.rec.fail(step, code)
}

var certificate = append([]byte("%PDF-1.4\n% bench certificate\n"), bytes.Repeat([]byte("0123456789abcdef"), 4096)...) // 64 KiB

type apiError struct {
	status int
	code   string
}

func (e *apiError) Error() string { return strconv.Itoa(e.status) + " " + e.code }

func (p *person) think(ctx context.Context) {
	d := p.o.ThinkMin
	if p.o.ThinkMax > p.o.ThinkMin {
		d += time.Duration(rand.Int64N(int64(p.o.ThinkMax - p.o.ThinkMin)))
	}
	if d > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
}

// call does one timed request; want is the expected status. With Retry it
// tries again after a 5xx or a broken connection: with the same
// Idempotency-Key after no answer or 503 temporarily_unavailable (the step
// may have been applied after the API stopped waiting), with a new one
// after any other answer.
func (p *person) call(ctx context.Context, step, method, path, contentType string, body []byte, want int, out any) error {
	newKey := func() string { return fmt.Sprintf("%s-%d-%s-%d", p.o.RunID, p.n, step, rand.Int64()) }
	key := newKey()
	var (
		res *http.Response
		err error
	)
	start := time.Now()
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, rerr := http.NewRequestWithContext(ctx, method, p.o.BaseURL+path, rd)
		if rerr != nil {
			return rerr
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if p.token != "" {
			req.Header.Set("Authorization", "Bearer "+p.token)
		}
		req.Header.Set("Idempotency-Key", key)
		res, err = p.o.HTTP.Do(req)
		retryable := err != nil || res.StatusCode >= 500
		if !retryable || attempt >= p.o.Retry || ctx.Err() != nil {
			break
		}
		code := "transport"
		if res != nil {
			raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
			_, _ = io.Copy(io.Discard, res.Body) // drain, so the connection is reused
			res.Body.Close()
			code = codeOf(raw, res.StatusCode)
			if code != "temporarily_unavailable" {
				// Any other answer, even a 5xx, ends that request: trying
				// again is a new request.
				key = newKey()
			}
		}
		p.rec.retry(step, code)
		time.Sleep(time.Second)
	}
	if err != nil {
		p.fail(step, "transport")
		return err
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	p.rec.add(step, time.Since(start))
	if res.StatusCode != want {
		code := codeOf(raw, res.StatusCode)
		p.fail(step, code)
		return &apiError{status: res.StatusCode, code: code}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (p *person) json(ctx context.Context, step, method, path string, in any, want int, out any) error {
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	return p.call(ctx, step, method, path, "application/json", body, want, out)
}

var linkRe = regexp.MustCompile(`/invitations/([A-Za-z0-9_-]{43})`)

func (p *person) journey(ctx context.Context) bool {
	org := fmt.Sprintf("b%s-%d", p.o.RunID, p.n)
	email := "owner@" + org + ".bench.example.com"
	out := Outcome{Email: email, Org: org}
	ok := p.steps(ctx, org, email, &out)
	p.end(&out, ok)
	return ok
}

// end counts a finished sign-up: a failed one by its step and reason.
func (p *person) end(out *Outcome, ok bool) {
	out.OK = ok
	if !ok {
		out.Reason = p.reason
		if out.Reason == "" {
			out.Reason = "stopped" // the run's context ended mid-journey
		}
		p.rec.failed(out.Step, out.Reason)
	}
	if p.o.Done != nil {
		p.o.Done(*out)
	}
}

func (p *person) steps(ctx context.Context, org, email string, out *Outcome) bool {
	fail := func(step string) bool { out.Step = step; return false }
	var created struct {
		SignupID    string `json:"signup_id"`
		SignupToken string `json:"signup_token"`
	}
	p.think(ctx) // reading the terms: arrivals spread instead of all at once
	if p.json(ctx, "create", http.MethodPost, "/api/v1/signups", map[string]any{"accepted_terms": []string{"service", "privacy"}}, 201, &created) != nil {
		return fail("create")
	}
	out.SignupID = created.SignupID
	p.token = created.SignupToken
	base := "/api/v1/signups/" + created.SignupID
	p.think(ctx)

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "certificate.pdf")
	_, _ = fw.Write(certificate)
	_ = mw.Close()
	if p.call(ctx, "certificate", http.MethodPost, base+"/certificate", mw.FormDataContentType(), buf.Bytes(), 201, nil) != nil {
		return fail("certificate")
	}
	p.think(ctx)
	// A business of its own: the service bounds the open sign-ups of one
	// business number (MAX_OPEN_SIGNUPS_PER_BUSINESS).
	number := bizno.Make(rand.IntN(900_000_000)).String()
	if p.json(ctx, "verify", http.MethodPost, base+"/business-number/verify", map[string]string{"business_number": number}, 200, nil) != nil {
		return fail("verify")
	}
	p.think(ctx)
	info := map[string]string{"business_number": number, "billing_email": "billing@" + org + ".bench.example.com",
		"company_name": "Bench " + org, "representative_name": "Kim Bench", "representative_phone": "02-123-4567",
		"address": "235 Pangyo-ro, Seongnam", "business_type": "Service", "business_category": "Software"}
	if p.json(ctx, "user_info", http.MethodPut, base+"/user-info", info, 200, nil) != nil {
		return fail("user_info")
	}
	p.think(ctx)
	var avail struct {
		Available bool `json:"available"`
	}
	if p.json(ctx, "check_name", http.MethodGet, "/api/v1/organization-names/"+org+"/availability", nil, 200, &avail) != nil {
		return fail("check_name")
	}
	if !avail.Available {
		p.fail("check_name", "unavailable")
		return fail("check_name")
	}
	p.think(ctx)
	orgBody := map[string]string{"organization_name": org, "contact_name": "Lee Bench", "contact_email": email, "mobile_phone": "010-1234-5678"}
	if p.json(ctx, "organization", http.MethodPut, base+"/organization", orgBody, 200, nil) != nil {
		return fail("organization")
	}
	p.think(ctx)
	if p.json(ctx, "submit", http.MethodPost, base+"/submit", nil, 202, nil) != nil {
		return fail("submit")
	}
	token, ok := p.awaitInvitation(ctx, email)
	if !ok {
		return fail("invitation_mail")
	}
	if p.o.Park {
		return true
	}
	p.think(ctx)
	p.token = ""
	if p.json(ctx, "accept", http.MethodPost, "/api/v1/invitations/"+token+"/accept", map[string]string{"password": "Bench!Pass42"}, 200, nil) != nil {
		return fail("accept")
	}
	p.think(ctx)
	signIn := map[string]string{"organization_name": org, "email": email, "password": "Bench!Pass42"}
	if p.json(ctx, "sign_in", http.MethodPost, "/api/v1/console/sessions", signIn, 201, nil) != nil {
		return fail("sign_in")
	}
	return true
}

// awaitInvitation waits up to MailWait for the invitation and returns its
// token; past the bound it records the sign-up's failure with the reason.
func (p *person) awaitInvitation(ctx context.Context, email string) (string, bool) {
	submitted := time.Now()
	token, reason := p.invitation(ctx, email)
	if reason != "" {
		p.fail("invitation_mail", reason)
		return "", false
	}
	p.rec.add("invitation_mail", time.Since(submitted))
	return token, true
}

// Reasons an invitation wait ends without the mail.
const (
	reasonNotReceived = "not_received"        // the mailbox answered, without it
	reasonMailboxDown = "mailbox_unreachable" // no answer from the mailbox
	reasonMailboxHTTP = "mailbox_http_"       // + the status the mailbox answered
)

// invitation long-polls GET /dev/mailbox for the invitation until MailWait
// has passed; it returns the link's token, or why there is none.
func (p *person) invitation(ctx context.Context, email string) (token, reason string) {
	deadline := time.Now().Add(p.o.MailWait)
	reason = reasonNotReceived
	for ctx.Err() == nil {
		left := time.Until(deadline)
		if left <= 0 {
			return "", reason
		}
		wait := min(left, 30*time.Second).Round(time.Millisecond)
		rctx, cancel := context.WithTimeout(ctx, left+2*time.Second) // a mailbox that ignores wait
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, p.o.MailboxURL+"/dev/mailbox?wait="+wait.String()+"&to="+url.QueryEscape(email), nil)
		res, err := p.o.HTTP.Do(req)
		switch {
		case err != nil:
			reason = reasonMailboxDown
		case res.StatusCode != http.StatusOK:
			reason = reasonMailboxHTTP + strconv.Itoa(res.StatusCode)
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			if res.StatusCode == http.StatusNotFound {
				// No mailbox there (dev serves none when SMTP_HOST is
				// set): waiting longer cannot bring the mail.
				cancel()
				return "", reason
			}
		default:
			reason = reasonNotReceived
			var box struct {
				Messages []struct {
					Text string `json:"text"`
				} `json:"messages"`
			}
			_ = json.NewDecoder(res.Body).Decode(&box)
			res.Body.Close()
			for _, m := range box.Messages {
				if mm := linkRe.FindStringSubmatch(m.Text); mm != nil {
					cancel()
					return mm[1], ""
				}
			}
		}
		cancel()
		select { // a mailbox that answers at once: don't spin
		case <-ctx.Done():
		case <-time.After(min(100*time.Millisecond, max(time.Until(deadline), 0))):
		}
	}
	return "", "stopped"
}

// progressBar is a progress bar, or nothing.
type progressBar struct {
	add    func()
	finish func()
}

// progress shows what is running, counting units per second.
func progress(o Options, what, unit string) progressBar {
	if o.Progress == nil {
		return progressBar{add: func() {}, finish: func() {}}
	}
	return newBar(o, what, unit)
}

// Print writes a result as a table.
func Print(w io.Writer, r *Result) {
	fmt.Fprintf(w, "\n%s: %d started, %d completed, %d failed in %.1f s — %.2f completed/s (concurrency %d, think %d–%d ms)\n",
		r.Kind, r.Started, r.Completed, r.Failed, r.Seconds, r.PerSecond, r.Concurrency, r.ThinkMinMS, r.ThinkMaxMS)
	names := make([]string, 0, len(r.Steps))
	for n := range r.Steps {
		names = append(names, n)
	}
	order := append(slices.Clone(WizardSteps), "invitation_mail", "accept", "sign_in")
	sort.SliceStable(names, func(i, j int) bool {
		a, b := slices.Index(order, names[i]), slices.Index(order, names[j])
		if a < 0 {
			a = 100
		}
		if b < 0 {
			b = 100
		}
		return a < b || (a == b && names[i] < names[j])
	})
	fmt.Fprintf(w, "  %-18s %7s %9s %9s %9s %9s\n", "step", "n", "p50 ms", "p95 ms", "p99 ms", "max ms")
	row := func(name string, s Stats) {
		fmt.Fprintf(w, "  %-18s %7d %9.1f %9.1f %9.1f %9.1f\n", name, s.Count, s.P50, s.P95, s.P99, s.Max)
	}
	for _, n := range names {
		row(n, r.Steps[n])
	}
	if r.WizardSteps.Count > 0 {
		row("(wizard steps)", r.WizardSteps)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(w, "  error %-30s %d\n", k, r.Errors[k])
	}
	if len(r.FailedBy) > 0 {
		fmt.Fprintf(w, "  failed sign-ups by reason (%d):\n", r.Failed)
		for _, k := range slices.Sorted(maps.Keys(r.FailedBy)) {
			fmt.Fprintf(w, "    %-44s %d\n", k, r.FailedBy[k])
			if strings.HasPrefix(k, "invitation_mail: ") {
				fmt.Fprintf(w, "      %s\n", mailHint(strings.TrimPrefix(k, "invitation_mail: "), r.MailWaitS))
			}
		}
	}
	if len(r.Statements) > 0 {
		callers := slices.Collect(maps.Keys(r.Statements))
		sort.Slice(callers, func(i, j int) bool {
			a, b := r.Statements[callers[i]], r.Statements[callers[j]]
			return a > b || (a == b && callers[i] < callers[j])
		})
		fmt.Fprintf(w, "  database statements per completed sign-up, by caller (HTTP route or activity):\n")
		for _, k := range callers {
			fmt.Fprintf(w, "    %-44s %6.1f\n", k, r.Statements[k])
		}
	}
	for _, p := range r.Processes {
		fmt.Fprintf(w, "  process %d %-12s cpu %.1f s (%.0f%% of one core), peak RSS %.1f MiB\n", p.PID, p.Name, p.CPUSeconds, p.CPUPercent, p.PeakRSSMiB)
	}
}

// mailHint says what an invitation_mail failure means.
func mailHint(reason string, waitS float64) string {
	switch {
	case reason == reasonNotReceived:
		return fmt.Sprintf("no invitation in GET /dev/mailbox within %s of submit (--mail-wait): is the mail sent elsewhere (SMTP_HOST), or the worker behind?", time.Duration(waitS*float64(time.Second)))
	case reason == reasonMailboxDown:
		return "GET /dev/mailbox did not answer (--mailbox-url)"
	case strings.HasPrefix(reason, reasonMailboxHTTP):
		return "GET /dev/mailbox answered " + strings.TrimPrefix(reason, reasonMailboxHTTP) + ": not a dev stack's mailbox (--mailbox-url)?"
	}
	return reason
}

// Trim is strings.TrimSpace for flag parsing.
func Trim(s string) string { return strings.TrimSpace(s) }

// codeOf is an error answer's contract code, or http_<status> when its body
// has none.
func codeOf(raw []byte, status int) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
		return e.Error.Code
	}
	return "http_" + strconv.Itoa(status)
}
