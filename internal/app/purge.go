package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/workflows"
)

// PurgeBatchSize is how many sign-ups one purge activity erases.
const PurgeBatchSize = 200

// PurgeScheduleID names the Schedule that starts the purge workflow, one per
// task queue (so that separate deployments sharing a namespace each purge
// their own database).
func PurgeScheduleID(taskQueue string) string { return "pii-purge-" + taskQueue }

// purgeSchedule is the Schedule the configuration asks for.
func (r *Runtime) purgeSchedule() (client.ScheduleSpec, *client.ScheduleWorkflowAction, workflows.PurgeInput) {
	cfg := r.Cfg
	in := workflows.PurgeInput{Retention: cfg.PIIRetention, BatchSize: PurgeBatchSize, SweepAfter: cfg.CertificateSweepAfter}
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: cfg.PIIPurgeEvery}}}
	action := &client.ScheduleWorkflowAction{
		ID:        PurgeScheduleID(cfg.TemporalTaskQueue), // the Schedule appends the start time
		Workflow:  workflows.PurgeWorkflowName,
		Args:      []any{in},
		TaskQueue: cfg.TemporalTaskQueue,
		// A run that cannot finish within the interval makes room for the next.
		WorkflowExecutionTimeout: max(cfg.PIIPurgeEvery, time.Hour),
		StaticSummary:            "Erase ended sign-ups' personal data (PII_RETENTION) and sweep crashed uploads",
	}
	return spec, action, in
}

// EnsurePurgeSchedule creates the Schedule that starts the purge workflow
// every PII_PURGE_EVERY, or updates it when the settings changed. Every
// worker calls it at start, several at once: a lost race to create finds the
// Schedule there and compares; a lost race to update tries again. A pause
// set by an operator in the Temporal UI is kept.
func (r *Runtime) EnsurePurgeSchedule(ctx context.Context, c client.Client) error {
	spec, action, want := r.purgeSchedule()
	id := PurgeScheduleID(r.Cfg.TemporalTaskQueue)
	sc := c.ScheduleClient()
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:     id,
		Spec:   spec,
		Action: action,
		// One purge at a time; a missed start (Temporal down) runs once
		// when it is back, within one interval.
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: max(r.Cfg.PIIPurgeEvery, time.Minute),
		Note:          "created by an onboarding worker",
	})
	if err == nil {
		r.Log.Info("purge schedule created", "schedule_id", id, "every", r.Cfg.PIIPurgeEvery, "retention", r.Cfg.PIIRetention)
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("purge schedule %s: %w", id, err)
	}
	dc := codec.DataConverter(r.Keyring)
	h := sc.GetHandle(ctx, id)
	for attempt := 1; ; attempt++ {
		updated := false
		err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			if sameSchedule(s, spec, action, want, dc) {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			s.Spec, s.Action = &spec, action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap, s.Policy.CatchupWindow = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, max(r.Cfg.PIIPurgeEvery, time.Minute)
			updated = true
			return &client.ScheduleUpdate{Schedule: &s}, nil
		}})
		if err == nil {
			if updated {
				r.Log.Info("purge schedule updated", "schedule_id", id, "every", r.Cfg.PIIPurgeEvery, "retention", r.Cfg.PIIRetention)
			}
			return nil
		}
		if attempt == 3 || ctx.Err() != nil {
			return fmt.Errorf("purge schedule %s: update: %w", id, err)
		}
		// Another worker updated it between our read and write.
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

// sameSchedule reports whether the Schedule already does what is wanted.
func sameSchedule(s client.Schedule, spec client.ScheduleSpec, action *client.ScheduleWorkflowAction, want workflows.PurgeInput, dc interface {
	FromPayload(*commonpb.Payload, any) error
}) bool {
	if s.Spec == nil || len(s.Spec.Intervals) != 1 || s.Spec.Intervals[0] != spec.Intervals[0] ||
		len(s.Spec.Calendars) > 0 || len(s.Spec.CronExpressions) > 0 {
		return false
	}
	if s.Policy == nil || s.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP {
		return false
	}
	got, ok := s.Action.(*client.ScheduleWorkflowAction)
	if !ok || got.TaskQueue != action.TaskQueue || got.ID != action.ID || got.Workflow != action.Workflow ||
		got.WorkflowExecutionTimeout != action.WorkflowExecutionTimeout || len(got.Args) != 1 {
		return false
	}
	p, ok := got.Args[0].(*commonpb.Payload)
	if !ok {
		return false
	}
	var have workflows.PurgeInput
	if err := dc.FromPayload(p, &have); err != nil {
		return false // sealed with a key no longer held: write it again
	}
	return have == want
}
