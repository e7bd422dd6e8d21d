package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/retention"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

func purgeEnv(t *testing.T, d sharedDeps, erased func(string)) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(60 * time.Second)
	acts := activities.New(activities.Deps{
		DB: d.db, Log: slog.New(slog.DiscardHandler), Certificates: d.certs,
		Eraser: retention.New(d.db, d.certs, erased, slog.New(slog.DiscardHandler)),
	})
	env.RegisterWorkflowWithOptions(workflows.Purge, workflow.RegisterOptions{Name: workflows.PurgeWorkflowName})
	env.RegisterActivity(acts)
	return env
}

// ended writes the read model of a sign-up that ended at endedAt, with a
// certificate, as the sign-up workflow would have left it.
func ended(t *testing.T, d sharedDeps, id string, status signup.Status, endedAt time.Time) {
	t.Helper()
	v := signup.View{SignupID: id, Status: status, AcceptedTerms: []string{"privacy", "service"},
		Organization: &signup.Organization{OrganizationName: id + "-co", ContactName: "Lee Ji-eun", ContactEmail: "owner@" + id + ".example.com"},
		CreatedAt:    endedAt.Add(-time.Hour), UpdatedAt: endedAt}
	acts := activities.New(activities.Deps{DB: d.db, Certificates: d.certs})
	if err := acts.SaveSignup(context.Background(), activities.SaveSignupInput{View: v, TokenHash: "h", Version: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.certs.Upload(context.Background(), id, "c.pdf", "application/pdf", strings.NewReader("%PDF-1.4"), 1<<20); err != nil {
		t.Fatal(err)
	}
}

func TestPurgeErasesInBatchesThenSweeps(t *testing.T) {
	d := newDeps(t)
	var counted int
	env := purgeEnv(t, d, func(trigger string) {
		if trigger == retention.TriggerRetention {
			counted++
		}
	})
	now := env.Now()
	for _, id := range []string{"p1", "p2", "p3", "p4", "p5"} {
		ended(t, d, id, signup.StatusAbandoned, now.Add(-2*time.Hour))
	}
	ended(t, d, "recent", signup.StatusCancelled, now.Add(-time.Minute))
	ended(t, d, "active", signup.StatusActive, now.Add(-2*time.Hour))
	// A crashed upload, old enough to sweep.
	crashed, err := d.certs.Upload(context.Background(), "recent", "x.pdf", "application/pdf", strings.NewReader("%PDF-1.4"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	d.db.Model(&models.Certificate{}).Where("id = ?", crashed.ID).Updates(map[string]any{
		"state": certstore.StateUploading, "created_at": time.Now().Add(-time.Hour).UTC()})

	env.ExecuteWorkflow(workflows.PurgeWorkflowName, workflows.PurgeInput{Retention: time.Hour, BatchSize: 2, SweepAfter: 10 * time.Minute})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("purge: %v", env.GetWorkflowError())
	}
	var res workflows.PurgeResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Erased != 5 || res.Swept != 1 || counted != 5 {
		t.Errorf("purge result %+v, counted %d; want 5 erased, 1 swept", res, counted)
	}
	var left []string
	d.db.Model(&models.Signup{}).Where("erased_at IS NULL").Order("id").Pluck("id", &left)
	if strings.Join(left, ",") != "active,recent" {
		t.Errorf("not erased: %v", left)
	}
	var certs []string
	d.db.Model(&models.Certificate{}).Order("signup_id").Pluck("signup_id", &certs)
	if strings.Join(certs, ",") != "active,recent" {
		t.Errorf("certificates left of %v", certs)
	}
}

func TestPurgeOneSignup(t *testing.T) {
	d := newDeps(t)
	env := purgeEnv(t, d, nil)
	ended(t, d, "asked", signup.StatusCancelled, time.Now())
	env.ExecuteWorkflow(workflows.PurgeWorkflowName, workflows.PurgeInput{SignupID: "asked", Operator: "kim.ops", Reason: "ticket 1"})
	var res workflows.PurgeResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Erased != 1 || res.Signup == nil || res.Signup.ErasedAt == nil || res.Signup.Organization != nil {
		t.Fatalf("erase: %+v", res)
	}

	// Not ended: refused at once, not retried.
	env = purgeEnv(t, d, nil)
	ended(t, d, "going", signup.StatusReady, time.Now())
	env.ExecuteWorkflow(workflows.PurgeWorkflowName, workflows.PurgeInput{SignupID: "going", Operator: "kim.ops"})
	var app *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &app) || app.Type() != signup.CodeNotEnded {
		t.Fatalf("erase of a ready sign-up: %v", err)
	}
}
