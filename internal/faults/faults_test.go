// Package faults runs the service as separate processes — Temporal, the
// SMTP capture server, an API and workers — drives sign-ups through HTTP,
// injects faults (killed workers, a killed Temporal server, a database
// outage, SMTP outages and refusals, a slow and failing tax service), and
// checks afterwards that nothing was lost and nothing happened twice.
//
// Each test runs FAULT_SIGNUPS sign-ups (default 30, so that CI stays fast);
// RELIABILITY.md has the long run's command and figures.
package faults

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kcloud/onboarding/internal/bench"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/internal/topology"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "onboarding-faults-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "onboarding")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/onboarding")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: build:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// signups is how many sign-ups each fault test runs.
func signups() int {
	if n, err := strconv.Atoi(os.Getenv("FAULT_SIGNUPS")); err == nil && n > 0 {
		return n
	}
	return 30
}

// run is one fault test's service.
type run struct {
	t    *testing.T
	topo *topology.Topology
	db   *store.DB
	dir  string
	// url is where the simulated people call (default: the first api).
	url string
}

func start(t *testing.T, workers int, dbURL string, env ...string) *run {
	t.Helper()
	return startWith(t, topology.Options{DatabaseURL: dbURL, Workers: workers, Env: env})
}

// startWith runs the topology o describes (Bin is filled in, and Dir and the
// database when not given).
func startWith(t *testing.T, o topology.Options) *run {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = storetest.URL(t)
	}
	o.Bin = bin
	topo, err := topology.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := topo.Start(ctx); err != nil {
		topo.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		topo.Close()
		if t.Failed() {
			for _, p := range topo.Procs() {
				b, _ := os.ReadFile(p.Log())
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("--- %s log (end) ---\n%s", p.Name, b)
			}
		}
	})
	db, err := store.Open(context.Background(), topo.DatabaseURL(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &run{t: t, topo: topo, db: db, dir: o.Dir}
}

// outcomes collects how the simulated sign-ups ended.
type outcomes struct {
	mu  sync.Mutex
	all []bench.Outcome
}

func (o *outcomes) add(x bench.Outcome) {
	o.mu.Lock()
	o.all = append(o.all, x)
	o.mu.Unlock()
}

// drive runs n full sign-ups (to a signed-in owner) while fault runs; it
// returns when both are done.
func (r *run) drive(n, concurrency int, park bool, fault func(ctx context.Context)) (*bench.Result, []bench.Outcome, time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var outs outcomes
	faultCtx, stopFault := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if fault != nil {
		wg.Add(1)
		go func() { defer wg.Done(); fault(faultCtx) }()
	}
	// A process that ends on its own (a port taken, a panic) would leave
	// the sign-ups waiting until the deadline: stop the run at once instead.
	crashed := make(chan string, 1)
	go r.watch(ctx, crashed, cancel)
	start := time.Now()
	base := r.url
	if base == "" {
		base = r.topo.APIURL
	}
	res, err := bench.Run(ctx, bench.Options{BaseURL: base, MailboxURL: r.topo.MailboxURL, Concurrency: concurrency,
		Count: n, ThinkMin: 50 * time.Millisecond, ThinkMax: 300 * time.Millisecond, Park: park, Retry: 60,
		MailWait: 4 * time.Minute, MetricsURLs: r.topo.MetricsURLs, Done: outs.add, RunID: "f" + strconv.Itoa(rand.IntN(1e6))})
	elapsed := time.Since(start)
	stopFault()
	wg.Wait()
	select {
	case name := <-crashed:
		r.t.Fatalf("%s ended on its own during the run (its log is below)", name)
	default:
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Logf("%d sign-ups: %d completed, %d failed in %s; errors and retries %v", res.Started, res.Completed, res.Failed, elapsed.Round(time.Millisecond), res.Errors)
	// The longest anyone waited on one step: how long the fault was felt.
	slowest, ms := "", 0.0
	for _, name := range slices.Sorted(maps.Keys(res.Steps)) {
		if st := res.Steps[name]; st.Max > ms {
			slowest, ms = name, st.Max
		}
	}
	r.t.Logf("longest wait: %s %.1f s (wizard steps p99 %.0f ms, max %.0f ms)", slowest, ms/1000, res.WizardSteps.P99, res.WizardSteps.Max)
	return res, outs.all, elapsed
}

// watch polls the topology's processes until ctx ends; the first that
// crashed is named on crashed, and the run is stopped.
func (r *run) watch(ctx context.Context, crashed chan<- string, stop context.CancelFunc) {
	for sleep(ctx, 500*time.Millisecond) {
		for _, p := range r.topo.Procs() {
			if p.Crashed() {
				crashed <- p.Name
				stop()
				return
			}
		}
	}
}

// sleep waits d or until ctx ends, reporting whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (r *run) admin(method, path string) (int, error) {
	req, _ := http.NewRequest(method, r.topo.APIURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+r.topo.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
