package workflows

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
)

// savedState is what the workflow knows of the read model it keeps: the
// version of its last save, the search attributes last upserted, and how
// many status changes it has recorded.
type savedState struct {
	version     int64
	transitions int
	searchAttrs searchAttrs
}

// searchAttrs are the values of the sign-up's search attributes.
type searchAttrs struct {
	status, organizationName, businessNumber string
}

// transition moves the sign-up to a status and records it. Outside the
// steps a failed save is logged, not fatal: the workflow holds the truth
// and the next save carries it.
func (w *signupWorkflow) transition(ctx workflow.Context, to signup.Status, actor signup.Actor, action signup.Action, detail string) {
	from := w.view.Status
	w.view.Status = to
	w.saved.transitions++
	w.saveOrLog(ctx, &signup.AuditEntry{Actor: actor, Action: action, From: from, To: to, Detail: detail})
}

// saveOrLog saves the current view (with audit, if any) outside a wizard
// step: a failure is logged, and the next save carries the view.
func (w *signupWorkflow) saveOrLog(ctx workflow.Context, audit *signup.AuditEntry) {
	next := w.view
	next.UpdatedAt = workflow.Now(ctx)
	if err := w.save(w.withSaveLocalActivity(ctx), next, audit); err != nil {
		w.log.Error("saving the sign-up view failed", "error", err)
	}
}

// saveStep saves the changed view of a wizard step; the step fails if it
// cannot be saved. A status change is audited as action, by the user.
func (w *signupWorkflow) saveStep(ctx workflow.Context, next signup.View, action signup.Action) (signup.View, error) {
	if err := w.write(w.withStepLocalActivity(ctx), w.stepSaveInput(ctx, next, action)); err != nil {
		return w.view, err
	}
	w.stepDone(ctx)
	return w.view, nil
}

// stepSaveInput is the save of a wizard step's changed view, for saveStep or
// (from changeShape 3) for the step's own local activity to write in its
// transaction: timed now, audited as action, by the user, when the status
// changes, and numbered as the next save. A step refused there spends its
// number all the same: an earlier attempt of it may have landed.
func (w *signupWorkflow) stepSaveInput(ctx workflow.Context, next signup.View, action signup.Action) *activities.SaveSignupInput {
	next.UpdatedAt = workflow.Now(ctx)
	var audit *signup.AuditEntry
	if next.Status != w.view.Status {
		audit = &signup.AuditEntry{Actor: userActor, Action: action, From: w.view.Status, To: next.Status}
	}
	return w.numbered(next, audit)
}

// adoptStepView makes next, written by the step's own local activity with its
// stepSaveInput, the current view, as saveStep does after its save.
func (w *signupWorkflow) adoptStepView(ctx workflow.Context, next signup.View) signup.View {
	w.current(ctx, next)
	w.stepDone(ctx)
	return w.view
}

// stepDone counts an accepted step, which moves the idle window.
func (w *signupWorkflow) stepDone(ctx workflow.Context) {
	w.wizard.steps++
	w.wizard.lastStepAt = workflow.Now(ctx)
}

// save writes next (and its audit entry) to the read model and, on
// success, makes it the current view and upserts the search attributes.
// It is the one write of the read model but for the steps' and the
// invitation's own (stepSaveInput, mailLink); ctx carries its local
// activity options.
func (w *signupWorkflow) save(ctx workflow.Context, next signup.View, audit *signup.AuditEntry) error {
	return w.write(ctx, w.numbered(next, audit))
}

// numbered is what a save of next sends: the version moves on even when
// the save fails, so a save that did land after a timeout can never hide a
// later one.
func (w *signupWorkflow) numbered(next signup.View, audit *signup.AuditEntry) *activities.SaveSignupInput {
	w.saved.version++
	return &activities.SaveSignupInput{
		View: next, TokenHash: w.in.TokenHash, Version: w.saved.version,
		LastError: w.failure.message, FailedStep: w.failure.step, Audit: audit,
	}
}

// write runs the SaveSignup local activity and, on success, makes its view
// the current one.
func (w *signupWorkflow) write(ctx workflow.Context, in *activities.SaveSignupInput) error {
	if err := workflow.ExecuteLocalActivity(ctx, a.SaveSignup, *in).Get(ctx, nil); err != nil {
		return err
	}
	w.current(ctx, in.View)
	return nil
}

// current makes a written view the current one and upserts the search
// attributes.
func (w *signupWorkflow) current(ctx workflow.Context, v signup.View) {
	w.view = v
	w.upsertSearchAttributes(ctx)
}

// upsertSearchAttributes tells Temporal's visibility the sign-up's status,
// organization name and business number whenever one of them changed (from
// changeShape 1: whenever the status changed, with the others).
func (w *signupWorkflow) upsertSearchAttributes(ctx workflow.Context) {
	now := searchAttrs{status: string(w.view.Status)}
	if w.view.Organization != nil {
		now.organizationName = w.view.Organization.OrganizationName
	}
	if w.view.Business != nil {
		now.businessNumber = w.view.Business.BusinessNumber
	}
	was := w.saved.searchAttrs
	if now == was {
		return
	}
	if w.versions.shape >= 4 && now.status == string(signup.StatusProvisioning) && was.status == string(signup.StatusReady) {
		// A submitted sign-up is provisioning only for as long as its
		// activity runs; visibility goes from ready to invited (or to
		// needs_attention). A retry's provisioning is upserted: it
		// leaves needs_attention.
		return
	}
	if w.versions.shape >= 1 && now.status == was.status {
		// Operators list sign-ups by status; the organization name and
		// business number ride along with the next status change (every
		// sign-up has one after them: the next step, or its end).
		return
	}
	// Always in this order: the upsert is a command in history.
	var updates []temporal.SearchAttributeUpdate
	for _, f := range []struct {
		key      temporal.SearchAttributeKeyKeyword
		now, was string
	}{
		{SignupStatusKey, now.status, was.status},
		{OrganizationNameKey, now.organizationName, was.organizationName},
		{BusinessNumberKey, now.businessNumber, was.businessNumber},
	} {
		if f.now != f.was && f.now != "" {
			updates = append(updates, f.key.ValueSet(f.now))
		}
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		w.log.Error("upserting search attributes failed", "error", err)
		return
	}
	w.saved.searchAttrs = now
}
