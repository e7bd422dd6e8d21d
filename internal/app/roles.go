package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/store"
)

// Run runs a production role (config.ModeAPI or config.ModeWorker) with
// the configuration from the environment until ctx ends, then stops it
// gracefully: `onboarding api` and `onboarding worker`.
func Run(ctx context.Context, mode config.Mode) error {
	if mode != config.ModeAPI && mode != config.ModeWorker {
		return fmt.Errorf("app: %s is not a production role", mode)
	}
	cfg, err := config.Load(mode)
	if err != nil {
		return err
	}
	rt, err := New(ctx, cfg, mode)
	if err != nil {
		return err
	}
	defer rt.Close()
	db, c, closeAll, err := rt.Connect(ctx, time.Minute)
	if err != nil {
		return err
	}
	defer closeAll()
	if mode == config.ModeAPI {
		return rt.runAPI(ctx, db, c)
	}
	return rt.runWorker(ctx, db, c)
}

// runAPI is the api role once connected: rate limits, the metrics
// listener, then the API on HTTP_ADDR with the graceful stop of SHUTDOWN_*.
func (r *Runtime) runAPI(ctx context.Context, db *store.DB, c client.Client) error {
	cfg := r.Cfg
	if err := r.OpenRateLimits(ctx, db); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	if cfg.MetricsAddr != "" {
		if _, err := r.ServeMetrics(ctx, cfg.MetricsAddr); err != nil {
			return err
		}
	}
	r.Log.Info("api listening", "addr", ln.Addr().String(), "temporal", r.Temporal.Describe())
	err = r.ServeAPI(ctx, ln, db, c, nil, Shutdown{Delay: cfg.ShutdownDelay, Timeout: cfg.ShutdownTimeout})
	r.Log.Info("api stopped")
	return err
}

// ServeAPI serves the HTTP API on ln until ctx ends, then stops it as sd
// says, its /readyz turning 503 first (sd.Stopping is the API's own). The
// signal outbox relay runs beside it and outlives the signal: it stops
// after the last request. box is dev mode's mailbox (nil otherwise). The
// api role and dev mode both serve through it.
func (r *Runtime) ServeAPI(ctx context.Context, ln net.Listener, db *store.DB, c client.Client, box *mailbox.Store, sd Shutdown) error {
	apiSrv := r.API(db, c, box)
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); apiSrv.RunOutbox(relayCtx) }()
	sd.Stopping = apiSrv.Stopping
	err := ServeGraceful(ctx, ln, apiSrv.Handler(), r.Log, sd)
	stopRelay()
	<-relayDone
	return err
}

// runWorker is the worker role once connected: the worker, and on
// METRICS_ADDR /metrics, /healthz and /readyz, which turns 503 on SIGTERM
// while the worker drains for up to WORKER_STOP_TIMEOUT.
func (r *Runtime) runWorker(ctx context.Context, db *store.DB, c client.Client) error {
	cfg := r.Cfg
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
	}
	w, err := r.StartWorker(c, db)
	if err != nil {
		_ = ln.Close()
		return err
	}
	r.Log.Info("worker running", "task_queue", cfg.TemporalTaskQueue, "temporal", r.Temporal.Describe(), "metrics", ln.Addr().String())
	var stopping atomic.Bool
	// The listener outlives the signal, so that readiness is seen turning
	// 503 while the worker drains.
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- Serve(srvCtx, ln, r.WorkerHandler(db, c, &stopping), r.Log) }()
	select {
	case <-ctx.Done():
	case err := <-served:
		w.Stop()
		stopSrv()
		return err
	}
	stopping.Store(true)
	r.drain(w)
	stopSrv()
	return <-served
}

// drain stops the worker: no new tasks, running activities get
// WORKER_STOP_TIMEOUT.
func (r *Runtime) drain(w worker.Worker) {
	start := time.Now()
	r.Log.Info("stopping: not ready; no new tasks; running activities get WORKER_STOP_TIMEOUT", "timeout", r.Cfg.WorkerStopTimeout.String())
	w.Stop()
	r.Log.Info("worker stopped", "took", time.Since(start).Round(time.Millisecond).String())
}

// WorkerHandler serves the worker's METRICS_ADDR: /metrics, /healthz, and
// /readyz, which answers 200 while the worker runs (stopping unset) and
// the database and Temporal answer.
func (r *Runtime) WorkerHandler(db *store.DB, c client.Client, stopping *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		if stopping.Load() {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		rctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		// The answer names the check; the error (addresses, drivers'
		// words) goes to the log, not to whoever can reach the port.
		if err := db.Ping(rctx); err != nil {
			r.Log.Warn("not ready: database", "error", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		if _, err := c.CheckHealth(rctx, &client.CheckHealthRequest{}); err != nil {
			r.Log.Warn("not ready: temporal", "error", err)
			http.Error(w, "temporal unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
