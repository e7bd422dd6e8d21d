package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/kcloud/onboarding/internal/devserver"
)

func TestSample(t *testing.T) {
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name string
		ids  []string
		n    int
		want []string
	}{
		{"none asked", ids, 0, nil},
		{"none there", nil, 20, nil},
		{"fewer than asked", ids[:3], 20, []string{"0", "1", "2"}},
		{"spread over the run", ids, 4, []string{"0", "25", "50", "75"}},
		{"all", ids[:5], 5, []string{"0", "1", "2", "3", "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sample(tc.ids, tc.n); !slices.Equal(got, tc.want) {
				t.Fatalf("Sample = %v, want %v", got, tc.want)
			}
		})
	}
}

// The same-shape no-op through the embedded Temporal server that
// `onboarding dev` runs, then its histories read back and counted: the
// counts are the no-op's shape (noop.go).
func TestCeilingHistories(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{DataDir: filepath.Join(t.TempDir(), "temporal"), FrontendAddr: addr,
		SearchAttributes: []string{"BenchRun"}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const journeys = 3
	o := Options{Concurrency: journeys, Count: journeys, Pollers: 2, RunID: "t" + strconv.FormatInt(time.Now().UnixNano()%1e6, 36)}
	res, err := Ceiling(ctx, c, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed != journeys || res.Failed != 0 {
		t.Fatalf("no-op: %d completed, %d failed (%v), want %d completed", res.Completed, res.Failed, res.Errors, journeys)
	}
	if res.LocalCPUSeconds <= 0 {
		t.Fatalf("no CPU counted for the no-op's worker: %v", res.LocalCPUSeconds)
	}
	var ids []string
	for n := 1; n <= journeys; n++ {
		ids = append(ids, fmt.Sprintf("bench-noop-%s-%d", o.RunID, n))
	}
	h, err := SampleHistories(ctx, c, ids)
	if err != nil {
		t.Fatal(err)
	}
	if h.Sampled != journeys || h.Closed != journeys {
		t.Fatalf("sampled %d, closed %d, want %d each", h.Sampled, h.Closed, journeys)
	}
	// What NoopSignup does, once per journey.
	for _, tc := range []struct {
		event string
		want  float64
	}{
		{"WorkflowExecutionStarted", 1},
		{"WorkflowExecutionUpdateAccepted", 5},
		{"WorkflowExecutionUpdateCompleted", 5},
		{"MarkerRecorded/LocalActivity", 2 + 2 + 1 + 2 + 1 + 3}, // the Updates' and the start's, after the activities, after the signal
		{"ActivityTaskScheduled", 2},
		{"ActivityTaskCompleted", 2},
		{"TimerStarted", 1},
		{"WorkflowExecutionSignaled", 1},
		{"WorkflowExecutionCompleted", 1},
	} {
		if got := h.ByType[tc.event]; got != tc.want {
			t.Errorf("%s per history = %v, want %v (all: %v)", tc.event, got, tc.want, h.ByType)
		}
	}
	sum := 0.0
	for _, v := range h.ByType {
		sum += v
	}
	if math.Abs(sum-h.Mean) > 1e-9 || h.Min > int(h.Mean) || h.Max < int(math.Ceil(h.Mean)) {
		t.Fatalf("mean %v, min %d, max %d, by type adds up to %v", h.Mean, h.Min, h.Max, sum)
	}
	var b strings.Builder
	PrintHistories(&b, h)
	if !strings.Contains(b.String(), fmt.Sprintf("history events per sign-up: %.1f", h.Mean)) || !strings.Contains(b.String(), "MarkerRecorded/LocalActivity") {
		t.Fatalf("printed:\n%s", b.String())
	}
	t.Logf("%s", b.String())
}
