package activities

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// keepAlive heartbeats while an activity with a heartbeat timeout runs, and
// stays quiet for one without (sign-ups started before the timeout was set)
// and for calls outside an activity.
func TestKeepAlive(t *testing.T) {
	tests := []struct {
		name      string
		heartbeat time.Duration
		wantBeats bool
	}{
		{"with a heartbeat timeout", 600 * time.Millisecond, true},
		{"without one", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var beats atomic.Int32
			env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats.Add(1) })
			slow := func(ctx context.Context) error {
				defer keepAlive(ctx)()
				time.Sleep(time.Second)
				return nil
			}
			env.RegisterActivityWithOptions(slow, activity.RegisterOptions{Name: "slow"})
			env.ExecuteWorkflow(func(ctx workflow.Context) error {
				ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: tt.heartbeat})
				return workflow.ExecuteActivity(ctx, "slow").Get(ctx, nil)
			})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if got := beats.Load() > 0; got != tt.wantBeats {
				t.Errorf("%d heartbeats, want some: %v", beats.Load(), tt.wantBeats)
			}
		})
	}
	keepAlive(context.Background())() // outside an activity: a no-op, no panic
}
