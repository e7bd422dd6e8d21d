package faults

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A worker that gets SIGTERM while an activity runs (Verify waiting on a
// slow tax service) stops polling but lets the activity finish — the tax
// service is asked once, not again by a retry — and exits 0 within
// WORKER_STOP_TIMEOUT; started again, it completes the step.
func TestWorkerStopLetsActivityFinish(t *testing.T) {
	var calls atomic.Int32
	asked := make(chan struct{}, 10)
	nts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		calls.Add(1)
		asked <- struct{}{}
		time.Sleep(3 * time.Second)
		answerActive(w, req)
	}))
	defer nts.Close()
	r := start(t, 1, "", "NTS_API_URL="+nts.URL, "NTS_SERVICE_KEY=test-key", "NTS_TIMEOUT=10s",
		"VERIFY_TIMEOUT=30s", "WORKER_STOP_TIMEOUT=20s")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.topo.WaitWorkers(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	created := r.create(ctx)
	verified := make(chan struct{})
	go func() {
		defer close(verified)
		r.call(ctx, http.MethodPost, "/api/v1/signups/"+created.SignupID+"/business-number/verify", created.SignupToken,
			"application/json", []byte(`{"business_number":"2208162517"}`), 200, nil)
	}()
	select {
	case <-asked:
	case <-ctx.Done():
		t.Fatal("the tax service was never asked")
	}
	w := r.topo.Workers[0]
	t0 := time.Now()
	w.Term()
	if got := readinessAfterTerm(r.topo.WorkerURLs[0] + "/readyz"); got == http.StatusOK {
		t.Error("the worker's /readyz stayed 200 after SIGTERM")
	}
	if !w.Wait(40 * time.Second) {
		t.Fatal("the worker did not stop within 40 s")
	}
	took := time.Since(t0)
	if code := w.ExitCode(); code != 0 {
		t.Errorf("worker exited %d, want 0", code)
	}
	if took < 2*time.Second {
		t.Errorf("the worker stopped %s after SIGTERM: it did not wait for the running activity", took)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	<-verified
	if n := calls.Load(); n != 1 {
		t.Errorf("the tax service was asked %d times, want once (the activity finished, no retry)", n)
	}
	t.Logf("worker stopped %s after SIGTERM, once its activity had finished; Verify answered after the restart", took.Round(time.Millisecond))
}
