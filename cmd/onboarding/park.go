package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/bench"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/topology"
)

// checkpoint is what parked sign-ups cost at one count.
type checkpoint struct {
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

func parkCmd() *cobra.Command {
	var (
		count, concurrency int
		at, dir, dbURL     string
		jsonOut            string
		cacheSize          string
	)
	cmd := &cobra.Command{
		Use:   "park",
		Short: "Park sign-ups in invited and measure worker memory and database bytes per waiting sign-up",
		Long: `park starts the service as separate processes (onboarding temporal, mailbox, api,
worker) in --dir, drives sign-ups up to "invited" (each then waits on its 7-day
timer), and at each count in --at reports the worker's resident memory and heap,
its sticky cache, and the bytes of the Temporal and application databases per
waiting sign-up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var marks []int
			for _, s := range strings.Split(at, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 1 {
					return fmt.Errorf("--at: %q", s)
				}
				marks = append(marks, n)
			}
			if count < marks[len(marks)-1] {
				count = marks[len(marks)-1]
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			if dir == "" {
				dir, err = os.MkdirTemp("", "onboarding-park-")
				if err != nil {
					return err
				}
			}
			topo, err := topology.New(topology.Options{Bin: bin, Dir: dir, DatabaseURL: dbURL,
				Env: []string{"WORKER_CACHE_SIZE=" + cacheSize}})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "starting temporal, mailbox, api and a worker in %s\n", dir)
			if err := topo.Start(ctx); err != nil {
				topo.Close()
				return err
			}
			defer topo.Close()
			var results []checkpoint
			parked, start := 0, time.Now()
			for _, mark := range marks {
				run := bench.Options{BaseURL: topo.APIURL, MailboxURL: topo.MailboxURL, Concurrency: concurrency,
					Count: mark - parked, Park: true, Progress: os.Stderr, MetricsURLs: topo.MetricsURLs,
					RunID: "p" + strconv.Itoa(mark)}
				res, err := bench.Run(ctx, run)
				if err != nil {
					return err
				}
				if res.Failed > 0 {
					fmt.Fprintf(os.Stderr, "warning: %d sign-ups failed to park: %v\n", res.Failed, res.Errors)
				}
				parked += res.Completed
				time.Sleep(5 * time.Second) // let the last tasks settle
				cp, err := measure(ctx, topo, dir, dbURL, parked)
				if err != nil {
					return err
				}
				cp.ParkRatePerSec = float64(parked) / time.Since(start).Seconds()
				cp.WorkerCacheLimit = cacheSize
				results = append(results, cp)
				b, _ := json.MarshalIndent(cp, "", "  ")
				fmt.Println(string(b))
			}
			if len(results) > 1 {
				a, b := results[0], results[len(results)-1]
				fmt.Printf("\nworker RSS %.1f MiB at %d waiting, %.1f MiB at %d: %+.1f%%\n", a.WorkerRSSMiB, a.Waiting, b.WorkerRSSMiB, b.Waiting, 100*(b.WorkerRSSMiB-a.WorkerRSSMiB)/a.WorkerRSSMiB)
				fmt.Printf("marginal bytes per waiting sign-up: Temporal %.0f, application %.0f\n",
					float64(b.TemporalDBBytes-a.TemporalDBBytes)/float64(b.Waiting-a.Waiting), float64(b.AppDBBytes-a.AppDBBytes)/float64(b.Waiting-a.Waiting))
			}
			if jsonOut != "" {
				b, _ := json.MarshalIndent(map[string]any{"machine": machine(), "command": strings.Join(os.Args, " "), "go": runtime.Version(), "checkpoints": results}, "", "  ")
				return os.WriteFile(jsonOut, b, 0o644)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&count, "count", "n", 10000, "sign-ups to park in all")
	f.StringVar(&at, "at", "1000,10000", "counts at which to measure")
	f.IntVarP(&concurrency, "concurrency", "c", 20, "simulated people at once")
	f.StringVar(&dir, "dir", "", "state directory (default: a new temporary one)")
	f.StringVar(&dbURL, "database-url", "", "application database (default: SQLite in --dir)")
	f.StringVar(&jsonOut, "json", "", "write the checkpoints as JSON")
	f.StringVar(&cacheSize, "worker-cache", "1000", "the worker's WORKER_CACHE_SIZE")
	return cmd
}

func measure(ctx context.Context, topo *topology.Topology, dir, dbURL string, waiting int) (checkpoint, error) {
	cp := checkpoint{Waiting: waiting}
	w := topo.Workers[0]
	cp.WorkerRSSMiB = bench.RSSMiB(w.PID())
	cp.APIRSSMiB = bench.RSSMiB(topo.API.PID())
	cp.TemporalRSSMiB = bench.RSSMiB(topo.Temporal.PID())
	m := scrape(ctx, topo.MetricsURLs[1])
	cp.WorkerHeapMiB = m["go_memstats_heap_inuse_bytes"] / (1 << 20)
	cp.StickyCached = m["temporal_sticky_cache_size"]
	cp.TemporalDBBytes = fileBytes(filepath.Join(dir, "temporal", "temporal.db"))
	if dbURL == "" {
		cp.AppDBBytes = fileBytes(filepath.Join(dir, "app.db"))
	} else {
		db, err := store.Open(ctx, dbURL, nil)
		if err != nil {
			return cp, err
		}
		defer db.Close()
		if err := db.Raw(`SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema()`).Scan(&cp.AppDBBytes).Error; err != nil {
			return cp, err
		}
	}
	cp.TemporalPerSign = float64(cp.TemporalDBBytes) / float64(waiting)
	cp.AppPerSign = float64(cp.AppDBBytes) / float64(waiting)
	return cp, nil
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
		if v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64); err == nil {
			out[name] += v
		}
	}
	return out
}
