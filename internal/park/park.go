// Package park measures what waiting sign-ups cost (`onboarding park`): it
// starts the service as separate processes, drives sign-ups up to
// "invited", where each waits on its 7-day timer, and at each count reports
// the worker's memory and the bytes of the Temporal and application
// databases per waiting sign-up.
package park

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kcloud/onboarding/internal/bench"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/topology"
)

// Checkpoint is what parked sign-ups cost at one count.
type Checkpoint struct {
	Waiting          int     `json:"waiting"`
	WorkerRSSMiB     float64 `json:"worker_rss_mib"`
	WorkerHeapMiB    float64 `json:"worker_heap_inuse_mib"`
	StickyCached     float64 `json:"worker_sticky_cache_size"`
	TemporalDBBytes  int64   `json:"temporal_db_bytes"`
	AppDBBytes       int64   `json:"app_db_bytes"`
	TemporalPerSign  float64 `json:"temporal_db_bytes_per_waiting_signup"`
	AppPerSign       float64 `json:"app_db_bytes_per_waiting_signup"`
	ParkRatePerSec   float64 `json:"park_rate_per_second"`
	APIRSSMiB        float64 `json:"api_rss_mib"`
	TemporalRSSMiB   float64 `json:"temporal_rss_mib"`
	WorkerCacheLimit string  `json:"worker_cache_limit"`
}

// Options say what to park and where.
type Options struct {
	Bin         string // the onboarding binary, started as temporal, mailbox, api and worker ("": this one)
	Dir         string // state directory ("": a new temporary one)
	DatabaseURL string // application database ("": SQLite in Dir)
	Marks       []int  // counts at which to measure, ascending
	Concurrency int    // simulated people at once
	WorkerCache string // the worker's WORKER_CACHE_SIZE
	Progress    io.Writer
	Out         io.Writer // each checkpoint as JSON, as it is taken
}

// ParseMarks reads --at: counts separated by commas, each at least 1.
func ParseMarks(s string) ([]int, error) {
	var marks []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--at: %q", f)
		}
		marks = append(marks, n)
	}
	return marks, nil
}

// Run starts the service in o.Dir, parks sign-ups up to each mark and
// measures there.
func Run(ctx context.Context, o Options) ([]Checkpoint, error) {
	var err error
	if o.Bin == "" {
		if o.Bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "onboarding-park-"); err != nil {
			return nil, err
		}
	}
	topo, err := topology.New(topology.Options{Bin: o.Bin, Dir: o.Dir, DatabaseURL: o.DatabaseURL,
		Env: []string{"WORKER_CACHE_SIZE=" + o.WorkerCache}})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "starting temporal, mailbox, api and a worker in %s\n", o.Dir)
	if err := topo.Start(ctx); err != nil {
		topo.Close()
		return nil, err
	}
	defer topo.Close()
	var results []Checkpoint
	parked, start := 0, time.Now()
	for _, mark := range o.Marks {
		n, err := parkUpTo(ctx, o, topo, mark, parked)
		if err != nil {
			return results, err
		}
		parked += n
		time.Sleep(5 * time.Second) // let the last tasks settle
		cp, err := measure(ctx, topo, o.Dir, o.DatabaseURL, parked)
		if err != nil {
			return results, err
		}
		cp.ParkRatePerSec = float64(parked) / time.Since(start).Seconds()
		cp.WorkerCacheLimit = o.WorkerCache
		results = append(results, cp)
		b, _ := json.MarshalIndent(cp, "", "  ")
		fmt.Fprintln(o.Out, string(b))
	}
	return results, nil
}

// parkUpTo drives sign-ups until mark are parked, parked already being;
// it returns how many more it parked.
func parkUpTo(ctx context.Context, o Options, topo *topology.Topology, mark, parked int) (int, error) {
	res, err := bench.Run(ctx, bench.Options{BaseURL: topo.APIURL, MailboxURL: topo.MailboxURL, Concurrency: o.Concurrency,
		Count: mark - parked, Park: true, Progress: o.Progress, MetricsURLs: topo.MetricsURLs,
		RunID: "p" + strconv.Itoa(mark)})
	if err != nil {
		return 0, err
	}
	if res.Failed > 0 {
		fmt.Fprintf(o.Progress, "warning: %d sign-ups failed to park: %v\n", res.Failed, res.Errors)
	}
	return res.Completed, nil
}

// WriteReport writes the checkpoints to path as JSON, with the machine, the
// command line and the Go version they were taken with.
func WriteReport(path, machine, command string, results []Checkpoint) error {
	b, err := json.MarshalIndent(map[string]any{"machine": machine, "command": command, "go": runtime.Version(), "checkpoints": results}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Summary writes how the worker's memory and the databases grew from the
// first checkpoint to the last.
func Summary(w io.Writer, results []Checkpoint) {
	if len(results) < 2 {
		return
	}
	a, b := results[0], results[len(results)-1]
	fmt.Fprintf(w, "\nworker RSS %.1f MiB at %d waiting, %.1f MiB at %d: %+.1f%%\n", a.WorkerRSSMiB, a.Waiting, b.WorkerRSSMiB, b.Waiting, 100*(b.WorkerRSSMiB-a.WorkerRSSMiB)/a.WorkerRSSMiB)
	fmt.Fprintf(w, "marginal bytes per waiting sign-up: Temporal %.0f, application %.0f\n",
		float64(b.TemporalDBBytes-a.TemporalDBBytes)/float64(b.Waiting-a.Waiting), float64(b.AppDBBytes-a.AppDBBytes)/float64(b.Waiting-a.Waiting))
}

func measure(ctx context.Context, topo *topology.Topology, dir, dbURL string, waiting int) (Checkpoint, error) {
	cp := Checkpoint{Waiting: waiting}
	cp.WorkerRSSMiB = bench.RSSMiB(topo.Workers[0].PID())
	cp.APIRSSMiB = bench.RSSMiB(topo.API.PID())
	cp.TemporalRSSMiB = bench.RSSMiB(topo.Temporal.PID())
	m := scrape(ctx, topo.MetricsURLs[1])
	cp.WorkerHeapMiB = m["go_memstats_heap_inuse_bytes"] / (1 << 20)
	cp.StickyCached = m["temporal_sticky_cache_size"]
	cp.TemporalDBBytes = fileBytes(filepath.Join(dir, "temporal", "temporal.db"))
	var err error
	if cp.AppDBBytes, err = appDBBytes(ctx, dir, dbURL); err != nil {
		return cp, err
	}
	cp.TemporalPerSign = float64(cp.TemporalDBBytes) / float64(waiting)
	cp.AppPerSign = float64(cp.AppDBBytes) / float64(waiting)
	return cp, nil
}

// appDBBytes is the application database's size: the SQLite file in dir,
// or the tables of the current schema of dbURL.
func appDBBytes(ctx context.Context, dir, dbURL string) (int64, error) {
	if dbURL == "" {
		return fileBytes(filepath.Join(dir, "app.db")), nil
	}
	db, err := store.Open(ctx, dbURL, nil)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.Raw(`SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema()`).Scan(&n).Error
	return n, err
}

// fileBytes is a SQLite database's size with its WAL.
func fileBytes(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// scrape reads unlabelled (or summed) Prometheus values.
func scrape(ctx context.Context, url string) map[string]float64 {
	out := map[string]float64{}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			out[name] += v
		}
	}
	return out
}
