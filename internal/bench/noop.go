package bench

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The ceiling: a workflow with the sign-up's shape and none of its work.
// A start carrying the terms (and a local "save" in its first task), then
// Updates "certificate", "verify",
// "userinfo", "org", "submit", each with a validator and as many no-op
// local activities as the real handler runs (its step and the read-model
// save); then two no-op regular activities (provision, invite) and a save,
// and a wait on an "accepted" signal against a 7-day timer, and a last
// save. No database, mail or validation.

type noopState struct{ steps, submitted int }

// NoopSignup is the same-shape no-op workflow.
func NoopSignup(ctx workflow.Context) error {
	st := &noopState{}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 5 * time.Second})
	local := func(ctx workflow.Context, n int) error {
		for i := 0; i < n; i++ {
			if err := workflow.ExecuteLocalActivity(lctx, NoopActivity).Get(ctx, nil); err != nil {
				return err
			}
		}
		return nil
	}
	handler := func(name string, locals int) {
		_ = workflow.SetUpdateHandlerWithOptions(ctx, name, func(ctx workflow.Context) (int, error) {
			if err := local(ctx, locals); err != nil {
				return 0, err
			}
			st.steps++
			if name == "submit" {
				st.submitted++
			}
			return st.steps, nil
		}, workflow.UpdateHandlerOptions{Validator: func() error { return nil }})
	}
	for _, h := range []struct {
		name   string
		locals int
	}{{"certificate", 2}, {"verify", 2}, {"userinfo", 1}, {"org", 2}, {"submit", 1}} {
		handler(h.name, h.locals)
	}
	if err := local(ctx, 1); err != nil {
		return err
	}
	if err := workflow.Await(ctx, func() bool { return st.submitted > 0 }); err != nil {
		return err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	for i := 0; i < 2; i++ {
		if err := workflow.ExecuteActivity(actx, NoopActivity).Get(ctx, nil); err != nil {
			return err
		}
	}
	if err := local(ctx, 1); err != nil {
		return err
	}
	accepted := workflow.GetSignalChannel(ctx, "accepted")
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(accepted, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.AddFuture(workflow.NewTimer(ctx, 7*24*time.Hour), func(workflow.Future) {})
	sel.Select(ctx)
	if err := local(ctx, 1); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// NoopActivity does nothing.
func NoopActivity(context.Context) error { return nil }

// EmptyWorkflow returns at once: the engine's plain cost of a start, one
// workflow task and a completion. (A timer, even of 1 ms, would measure the
// timer queue's polling instead: about a second here.)
func EmptyWorkflow(workflow.Context) error { return nil }

// Ceiling runs the same-shape no-op journey through the Temporal server at
// c, from a worker in this process, as many and as concurrently as o says.
func Ceiling(ctx context.Context, c client.Client, o Options) (*Result, error) {
	queue := "bench-noop-" + o.RunID
	w := worker.New(c, queue, worker.Options{MaxConcurrentWorkflowTaskPollers: o.Pollers, MaxConcurrentActivityTaskPollers: max(2, o.Pollers/2)})
	w.RegisterWorkflow(NoopSignup)
	w.RegisterWorkflow(EmptyWorkflow)
	w.RegisterActivity(NoopActivity)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("bench: noop worker: %w", err)
	}
	defer w.Stop()
	rec := newRecorder()
	bar := progress(o, "no-op ceiling", "journeys")
	sampler := newSampler(o.PIDs)
	cpu0 := processCPU()
	started, completed, failed, elapsed := drive(ctx, o, bar.add, func(ctx context.Context, n int) bool {
		return noopJourney(ctx, c, queue, fmt.Sprintf("bench-noop-%s-%d", o.RunID, n), rec, o)
	})
	bar.finish()
	res := rec.result("noop", o, started, completed, failed, elapsed)
	res.LocalCPUSeconds = (processCPU() - cpu0).Seconds()
	res.Processes = sampler.stop()
	return res, nil
}

func noopJourney(ctx context.Context, c client.Client, queue, id string, rec *recorder, o Options) bool {
	p := &person{o: o}
	p.think(ctx)
	start := time.Now()
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL}, NoopSignup)
	if err != nil {
		rec.fail("create", errCode(err))
		return false
	}
	rec.add("create", time.Since(start))
	steps := map[string]string{"certificate": "certificate", "verify": "verify", "userinfo": "user_info", "org": "organization", "submit": "submit"}
	for _, u := range []string{"certificate", "verify", "userinfo", "org", "submit"} {
		p.think(ctx)
		t := time.Now()
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: u, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(ctx, nil)
		}
		if err != nil {
			rec.fail(steps[u], errCode(err))
			return false
		}
		rec.add(steps[u], time.Since(t))
	}
	p.think(ctx)
	t := time.Now()
	if err := c.SignalWorkflow(ctx, id, "", "accepted", nil); err != nil {
		rec.fail("accept", errCode(err))
		return false
	}
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		rec.fail("complete", errCode(err))
		return false
	}
	rec.add("accept", time.Since(t))
	return true
}

func errCode(err error) string {
	var app *temporal.ApplicationError
	if ok := asApp(err, &app); ok {
		return app.Type()
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// Engine starts n empty workflows with o.Concurrency
// starters and reports completions per second.
func Engine(ctx context.Context, c client.Client, o Options, n int) (*Result, error) {
	queue := "bench-engine-" + o.RunID
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(EmptyWorkflow)
	if err := w.Start(); err != nil {
		return nil, err
	}
	defer w.Stop()
	rec := newRecorder()
	eo := o
	eo.Count = n
	bar := progress(eo, "empty workflows", "workflows")
	started, completed, failed, elapsed := drive(ctx, eo, bar.add, func(ctx context.Context, i int) bool {
		t := time.Now()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-empty-%s-%d", o.RunID, i), TaskQueue: queue}, EmptyWorkflow)
		if err == nil {
			err = run.Get(ctx, nil)
		}
		if err != nil {
			rec.fail("empty", errCode(err))
			return false
		}
		rec.add("empty", time.Since(t))
		return true
	})
	bar.finish()
	return rec.result("engine", eo, started, completed, failed, elapsed), nil
}
