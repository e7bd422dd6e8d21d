package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

// atShape makes the sign-up read the signup-shape change as v; the test
// environment otherwise answers its newest version (5: DefaultVersion to 5
// is what setup asks for).
func (h *harness) atShape(v workflow.Version) {
	h.env.OnGetVersion("signup-shape", workflow.DefaultVersion, 5).Return(v)
}

// wizardTrace is what a client and an operator can see of a wizard: the
// steps' answers, the read-model row after each step, the audit rows, and
// the local activities the workflow ran, by type.
type wizardTrace struct {
	answers, rows, audit []string
	localActivities      map[string]int
}

// traceWizard runs the wizard (certificate, Verify, user information, two
// organizations, then an operator's cancel) at the given signup-shape
// version, on a database of its own, from a fixed start.
func traceWizard(t *testing.T, shape workflow.Version) wizardTrace {
	t.Helper()
	h := newHarness(t, newDeps(t), "shape", settings)
	h.env.SetStartTime(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	h.atShape(shape)
	tr := wizardTrace{localActivities: map[string]int{}}
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		tr.localActivities[info.ActivityType.Name]++
	})
	h.startTerms = []string{"service", "privacy"}
	cert := h.certificate(h.id)
	certTo := func(s string) string { return strings.ReplaceAll(s, cert, "CERT") }
	steps := []struct {
		key, update string
		arg         any
	}{
		{"cert", workflows.UpdateAttachCertificate, signup.CertificateInput{CertificateID: cert}},
		{"verify", workflows.UpdateVerify, signup.VerifyInput{BusinessNumber: "220-81-62517"}},
		{"userinfo", workflows.UpdateUserInfo, userInfo},
		{"org", workflows.UpdateOrganization, orgInput("shape-co")},
		{"org-again", workflows.UpdateOrganization, orgInput("shape-co-2")},
	}
	for _, s := range steps {
		h.step(s.key, s.update, time.Minute, s.arg)
		h.do(time.Second, func() {
			var row models.Signup
			if err := h.db.Where("id = ?", h.id).Take(&row).Error; err != nil {
				t.Errorf("%s: %v", s.key, err)
				return
			}
			tr.rows = append(tr.rows, certTo(fmt.Sprintf("after %s: %s v%d org=%s biz=%s email=%s err=%s updated=%s view=%s", s.key,
				row.Status, row.Version, deref(row.OrganizationName), deref(row.BusinessNumber), deref(row.ContactEmail),
				deref(row.LastError), row.UpdatedAt.UTC().Format(time.RFC3339Nano), row.View)))
		})
	}
	h.step("cancel", workflows.UpdateCancel, time.Minute, signup.OperatorInput{Operator: "ops"})
	h.run()
	for _, s := range steps {
		h.wantOK(s.key)
		answer, err := json.Marshal(h.results[s.key].value)
		if err != nil {
			t.Fatal(err)
		}
		tr.answers = append(tr.answers, s.key+": "+certTo(string(answer)))
	}
	var events []models.AuditEvent
	if err := h.db.Where("signup_id = ?", h.id).Order("created_at, dedupe_key").Find(&events).Error; err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		tr.audit = append(tr.audit, fmt.Sprintf("%s %s %s→%s %s key=%s at %s", e.Actor, e.Action, deref(e.FromStatus), deref(e.ToStatus),
			deref(e.Detail), deref(e.DedupeKey), e.CreatedAt.UTC().Format(time.RFC3339Nano)))
	}
	return tr
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// From signup-shape 3 the certificate, Verify and organization steps write
// their view in their own local activity: one local activity fewer each,
// and the same answers, read model (version, times, audit) as the steps of
// version 2, which save with a SaveSignup after it.
func TestStepsSaveInTheirOwnActivity(t *testing.T) {
	before, after := traceWizard(t, 2), traceWizard(t, 3)
	for _, c := range []struct {
		what          string
		before, after []string
	}{
		{"answers", before.answers, after.answers},
		{"read model", before.rows, after.rows},
		{"audit", before.audit, after.audit},
	} {
		if strings.Join(c.before, "\n") != strings.Join(c.after, "\n") {
			t.Errorf("%s differ:\nversion 2:\n%s\nversion 3:\n%s", c.what, strings.Join(c.before, "\n"), strings.Join(c.after, "\n"))
		}
	}
	if len(before.rows) != 5 || len(before.audit) < 3 {
		t.Fatalf("traced %d rows, %d audit rows: the wizard did not run", len(before.rows), len(before.audit))
	}
	// Certificate, Verify, two organizations: four saves folded.
	if got, want := after.localActivities["SaveSignup"], before.localActivities["SaveSignup"]-4; got != want {
		t.Errorf("SaveSignup local activities at version 3: %d, want %d (version 2: %v, version 3: %v)", got, want, before.localActivities, after.localActivities)
	}
	for step, n := range map[string]int{"AttachCertificate": 1, "VerifyBusinessNumber": 1, "ReserveName": 2} {
		if before.localActivities[step] != n || after.localActivities[step] != n {
			t.Errorf("%s ran %d times at version 2, %d at version 3; want %d", step, before.localActivities[step], after.localActivities[step], n)
		}
	}
}

// A refused step writes nothing at either version: the read model, the
// reservation and the certificate stay as they were.
func TestRefusedStepsWriteNothing(t *testing.T) {
	for _, shape := range []workflow.Version{2, 3} {
		t.Run(fmt.Sprintf("signup-shape %d", shape), func(t *testing.T) {
			d := newDeps(t)
			if err := activities.New(activities.Deps{DB: d.db}).ReserveName(context.Background(),
				activities.ReserveNameInput{SignupID: "other", Name: "held-co"}); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, d, "refused", settings)
			h.atShape(shape)
			h.startTerms = []string{"service", "privacy"}
			cert := h.throughOrganization("mine-co")
			var row models.Signup
			h.do(time.Second, func() { h.db.Where("id = ?", h.id).Take(&row) })
			h.step("cert-missing", workflows.UpdateAttachCertificate, time.Minute, signup.CertificateInput{CertificateID: "gone"})
			h.step("org-taken", workflows.UpdateOrganization, time.Minute, orgInput("held-co"))
			h.do(time.Second, func() {
				var now models.Signup
				h.db.Where("id = ?", h.id).Take(&now)
				if now.Version != row.Version || now.View != row.View || !now.UpdatedAt.Equal(row.UpdatedAt) {
					t.Errorf("refused steps changed the read model: v%d %s, was v%d %s", now.Version, now.View, row.Version, row.View)
				}
				if n := h.count(&models.NameReservation{}, "signup_id = ? AND name_key = ?", h.id, "mine-co"); n != 1 {
					t.Errorf("the sign-up's reservation moved after a taken name")
				}
				if n := h.count(&models.Certificate{}, "signup_id = ? AND id = ? AND state = 'stored'", h.id, cert); n != 1 {
					t.Errorf("the certificate was retired by a refused attach")
				}
			})
			h.step("cancel", workflows.UpdateCancel, time.Minute, signup.OperatorInput{Operator: "ops"})
			h.run()
			for _, k := range []string{"cert", "verify", "userinfo", "org", "cancel"} {
				h.wantOK(k)
			}
			h.wantCode("cert-missing", signup.CodeCertificateMissing)
			h.wantCode("org-taken", signup.CodeOrganizationNameTaken)
			if row.Version == 0 || row.Status != string(signup.StatusReady) {
				t.Fatalf("read model before the refusals: %s v%d", row.Status, row.Version)
			}
		})
	}
}

// journeyTrace is what a whole sign-up leaves: the read model at its end,
// its audit rows, the invitation mailed, and the activities it ran, by type.
type journeyTrace struct {
	row             string
	audit           []string
	mails           int
	activities      map[string]int
	localActivities map[string]int
}

// traceJourney runs a sign-up from the start to active at the given
// signup-shape version, on a database of its own, from a fixed start.
func traceJourney(t *testing.T, shape workflow.Version, apiCreated bool) journeyTrace {
	t.Helper()
	h := newHarness(t, newDeps(t), "journey", settings)
	h.env.SetStartTime(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	h.atShape(shape)
	h.apiCreated = apiCreated
	tr := journeyTrace{activities: map[string]int{}, localActivities: map[string]int{}}
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		tr.activities[info.ActivityType.Name]++
	})
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		tr.localActivities[info.ActivityType.Name]++
	})
	h.startTerms = []string{"service", "privacy"}
	h.wizard("journey-co")
	h.do(time.Hour, h.setPassword)
	if v := h.run(); v.Status != signup.StatusActive {
		t.Fatalf("shape %d: ended %s", shape, v.Status)
	}
	var row models.Signup
	if err := h.db.Where("id = ?", h.id).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	tr.row = fmt.Sprintf("%s v%d org=%s biz=%s updated=%s view=%s", row.Status, row.Version,
		deref(row.OrganizationName), deref(row.BusinessNumber), row.UpdatedAt.UTC().Format(time.RFC3339Nano),
		certificateID.ReplaceAllString(row.View, `"certificate":{"id":"CERT"`))
	var events []models.AuditEvent
	if err := h.db.Where("signup_id = ?", h.id).Order("created_at, dedupe_key").Find(&events).Error; err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		tr.audit = append(tr.audit, fmt.Sprintf("%s %s %s→%s %s key=%s", e.Actor, e.Action, deref(e.FromStatus), deref(e.ToStatus),
			deref(e.Detail), deref(e.DedupeKey)))
	}
	tr.mails = len(h.invitesTo(orgInput("journey-co").ContactEmail))
	return tr
}

var certificateID = regexp.MustCompile(`"certificate":\{"id":"[^"]*"`)

// From signup-shape 4 provisioning and the first invitation are one
// activity: the same read model, audit trail and mail as the two
// activities of version 3.
func TestProvisionAndInviteInOneActivity(t *testing.T) {
	before, after := traceJourney(t, 3, false), traceJourney(t, 4, false)
	if before.row != after.row {
		t.Errorf("read model differs:\nversion 3: %s\nversion 4: %s", before.row, after.row)
	}
	if strings.Join(before.audit, "\n") != strings.Join(after.audit, "\n") {
		t.Errorf("audit differs:\nversion 3:\n%s\nversion 4:\n%s", strings.Join(before.audit, "\n"), strings.Join(after.audit, "\n"))
	}
	if before.mails != 1 || after.mails != 1 {
		t.Errorf("invitations mailed: %d at version 3, %d at version 4; want 1", before.mails, after.mails)
	}
	want := map[workflow.Version]map[string]int{
		3: {"ProvisionOwner": 1, "SendInvitation": 1},
		4: {"ProvisionAndInvite": 1},
	}
	for v, tr := range map[workflow.Version]journeyTrace{3: before, 4: after} {
		if fmt.Sprint(tr.activities) != fmt.Sprint(want[v]) {
			t.Errorf("activities at version %d: %v, want %v", v, tr.activities, want[v])
		}
	}
}

// A failure of provisioning needs attention with "provision" as its step at
// either version, though from version 4 it runs in the invitation's
// activity; an operator's retry then finishes the sign-up.
func TestProvisionFailureNamesItsStep(t *testing.T) {
	for _, shape := range []workflow.Version{3, 4} {
		t.Run(fmt.Sprintf("signup-shape %d", shape), func(t *testing.T) {
			d := newDeps(t)
			h := newHarness(t, d, "provfail", settings)
			h.atShape(shape)
			h.startTerms = []string{"service", "privacy"}
			h.throughOrganization("clash-co")
			// The reservation goes elsewhere between the organization step
			// and provisioning: provisioning is refused.
			h.do(time.Second, func() {
				if err := d.db.Exec("UPDATE name_reservations SET signup_id = 'elsewhere' WHERE signup_id = ?", h.id).Error; err != nil {
					t.Error(err)
				}
			})
			h.step("submit", workflows.UpdateSubmit, time.Second)
			var attention signup.AdminView
			h.do(time.Hour, func() {
				enc, err := h.env.QueryWorkflow(workflows.QueryAdminView)
				if err == nil {
					err = enc.Get(&attention)
				}
				if err != nil {
					t.Error(err)
				}
				if err := d.db.Exec("UPDATE name_reservations SET signup_id = ? WHERE signup_id = 'elsewhere'", h.id).Error; err != nil {
					t.Error(err)
				}
			})
			h.step("retry", workflows.UpdateRetry, time.Minute, signup.OperatorInput{Operator: "ops"})
			h.do(time.Hour, h.setPassword)
			s := settings
			s.StepRetryBudget = 30 * time.Second
			v := h.runWith(s)
			if attention.Status != signup.StatusNeedsAttention || attention.FailedStep == nil || *attention.FailedStep != "provision" {
				t.Fatalf("after the clash: %s, failed step %v, error %v", attention.Status, deref(attention.FailedStep), deref(attention.LastError))
			}
			h.wantOK("retry")
			if v.Status != signup.StatusActive {
				t.Errorf("after the retry: %s", v.Status)
			}
		})
	}
}

// From signup-shape 5 a sign-up whose API wrote step 1 with its first row
// (Input.TermsRecorded) does not save it again: one local activity fewer,
// and the same read model and audit trail as a sign-up of version 4 (which
// saves step 1 again, a save the stored row makes a no-op) or of an API
// that did not record it.
func TestTermsRecordedByTheAPI(t *testing.T) {
	v4, v5 := traceJourney(t, 4, true), traceJourney(t, 5, true)
	oldAPI := traceJourney(t, 5, false)
	for name, tr := range map[string]journeyTrace{"version 5": v5, "version 5, terms not recorded by the API": oldAPI} {
		if tr.row != v4.row {
			t.Errorf("%s: read model differs:\nversion 4: %s\n%s: %s", name, v4.row, name, tr.row)
		}
		if strings.Join(tr.audit, "\n") != strings.Join(v4.audit, "\n") {
			t.Errorf("%s: audit differs:\nversion 4:\n%s\n%s:\n%s", name, strings.Join(v4.audit, "\n"), name, strings.Join(tr.audit, "\n"))
		}
	}
	if n := len(v4.audit); n == 0 || !strings.Contains(v4.audit[0], "terms_accepted") {
		t.Fatalf("audit starts with %v, want terms_accepted", v4.audit)
	}
	if got, want := v5.localActivities["SaveSignup"], v4.localActivities["SaveSignup"]-1; got != want {
		t.Errorf("SaveSignup local activities at version 5: %d, want %d (version 4: %v)", got, want, v4.localActivities)
	}
	if got, want := oldAPI.localActivities["SaveSignup"], v4.localActivities["SaveSignup"]; got != want {
		t.Errorf("SaveSignup local activities without TermsRecorded: %d, want %d", got, want)
	}
}
