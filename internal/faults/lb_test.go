package faults

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// balancer is the small round-robin HTTP load balancer of the replica
// tests: it sends each request to the next backend whose /readyz answered
// 200 at its last check (every 100 ms), tries the next one when a backend
// refuses the connection (the request never reached it), and records what
// every backend answered, so that the test can tell which requests a
// stopping api accepted and how it answered them.
type balancer struct {
	t        *testing.T
	backends []string
	ready    []atomic.Bool
	next     atomic.Uint64
	srv      *http.Server
	URL      string
	tr       *http.Transport

	// loseEvery: every loseEvery-th wizard answer (user-info, organization,
	// submit) that the api gave is replaced by a 503, as when a load
	// balancer times out on a step that was applied: the person repeats it
	// with the same Idempotency-Key, which must land once. 0: none.
	loseEvery int
	eligible  atomic.Int64
	lost      atomic.Int64

	mu      sync.Mutex
	records []exchange
	terms   map[int][]time.Time // backend → when it was sent SIGTERM
}

// exchange is one request as a backend took it.
type exchange struct {
	backend  int
	sent     time.Time // connection made and request sent
	done     time.Time // answer (or failure) received
	status   int       // 0: no answer (transport error after the connection)
	err      string
	path     string
	proxy503 bool // no backend was ready: the balancer answered 503 itself
}

func newBalancer(t *testing.T, backends []string) *balancer {
	b := &balancer{t: t, backends: backends, ready: make([]atomic.Bool, len(backends)), terms: map[int][]time.Time{},
		// One connection per request: a stopping backend closes idle
		// keep-alive connections, and only a fresh dial tells "refused"
		// (never reached) from "accepted".
		tr: &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 2 * time.Minute}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.URL = "http://" + ln.Addr().String()
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	go b.watch(ctx)
	t.Cleanup(func() { cancel(); _ = b.srv.Close() })
	return b
}

// watch polls each backend's readiness, as a load balancer's health
// check: an answer counts at once (200 ready, anything else not), while a
// check that gets no answer (a busy machine) takes three in a row to count.
func (b *balancer) watch(ctx context.Context) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	misses := make([]int, len(b.backends))
	for {
		for i, u := range b.backends {
			res, err := c.Get(u + "/readyz")
			if err != nil {
				misses[i]++
				if misses[i] >= 3 || errors.Is(err, syscall.ECONNREFUSED) {
					b.ready[i].Store(false)
				}
				continue
			}
			res.Body.Close()
			misses[i] = 0
			b.ready[i].Store(res.StatusCode == 200)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// terminating records that backend i is sent SIGTERM now.
func (b *balancer) terminating(i int) {
	b.mu.Lock()
	b.terms[i] = append(b.terms[i], time.Now())
	b.mu.Unlock()
}

func (b *balancer) record(x exchange) {
	x.done = time.Now()
	b.mu.Lock()
	b.records = append(b.records, x)
	b.mu.Unlock()
}

func (b *balancer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the request", http.StatusBadRequest)
		return
	}
	n := len(b.backends)
	start := int(b.next.Add(1))
	for k := 0; k < n; k++ {
		i := (start + k) % n
		if !b.ready[i].Load() {
			continue
		}
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, b.backends[i]+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		out.Header.Set("X-Forwarded-For", "127.0.0.1")
		sent := time.Now()
		res, err := b.tr.RoundTrip(out)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				// Never reached: the backend's listener is closed.
				b.ready[i].Store(false)
				continue
			}
			b.record(exchange{backend: i, sent: sent, err: err.Error(), path: r.URL.Path})
			http.Error(w, "backend failed: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, rerr := io.ReadAll(res.Body)
		res.Body.Close()
		if rerr != nil {
			b.record(exchange{backend: i, sent: sent, err: rerr.Error(), path: r.URL.Path})
			http.Error(w, "backend failed: "+rerr.Error(), http.StatusBadGateway)
			return
		}
		b.record(exchange{backend: i, sent: sent, status: res.StatusCode, path: r.URL.Path})
		if b.loseEvery > 0 && res.StatusCode < 300 && r.Header.Get("Idempotency-Key") != "" && wizardStep(r) &&
			b.eligible.Add(1)%int64(b.loseEvery) == 0 {
			b.lost.Add(1)
			b.unavailable(w, "the answer was lost on the way")
			return
		}
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(raw)
		return
	}
	b.record(exchange{backend: -1, sent: time.Now(), status: http.StatusServiceUnavailable, path: r.URL.Path, proxy503: true})
	b.unavailable(w, "no api replica is ready")
}

func (b *balancer) unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":{"code":"temporarily_unavailable","message":"` + msg + `"}}`))
}

// wizardStep reports whether r is a wizard step answered by a workflow
// Update keyed by its Idempotency-Key.
func wizardStep(r *http.Request) bool {
	for _, suffix := range []string{"/user-info", "/organization", "/submit"} {
		if strings.HasSuffix(r.URL.Path, suffix) && strings.HasPrefix(r.URL.Path, "/api/v1/signups/") {
			return true
		}
	}
	return false
}

// reset forgets what was recorded so far (the test's own start-up checks).
func (b *balancer) reset() {
	b.mu.Lock()
	b.records = nil
	b.mu.Unlock()
}

// isReady reports what the balancer last saw of backend i.
func (b *balancer) isReady(i int) bool { return b.ready[i].Load() }

// tally is what the backends answered.
type tally struct {
	requests              int
	answered5xx           int // 5xx from an api (any)
	answered503           int // of which 503
	proxy503              int // the balancer's own 503 (no replica ready)
	broken                int // accepted, then no answer
	acceptedBeforeTerm5xx int // accepted by an api before its SIGTERM, answered 5xx or not at all
	perBackend            map[int]int
}

func (b *balancer) tally() tally {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := tally{perBackend: map[int]int{}}
	for _, x := range b.records {
		t.requests++
		t.perBackend[x.backend]++
		if x.proxy503 {
			t.proxy503++
			continue
		}
		bad := x.status == 0 || x.status >= 500
		if x.status == 0 {
			t.broken++
		}
		if x.status >= 500 {
			t.answered5xx++
			if x.status == 503 {
				t.answered503++
			}
		}
		if bad {
			for _, term := range b.terms[x.backend] {
				if x.sent.Before(term) && x.done.After(term) {
					// In flight at the SIGTERM: accepted before it.
					t.acceptedBeforeTerm5xx++
					b.t.Errorf("request %s accepted by backend %d at %s, before its SIGTERM at %s, answered %d %s",
						x.path, x.backend, x.sent.Format("15:04:05.000"), term.Format("15:04:05.000"), x.status, x.err)
					break
				}
			}
		}
	}
	return t
}
