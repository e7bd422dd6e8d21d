package activities_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// stepSave is a wizard step's next view as the workflow sends it with the
// step (signup-shape 3), numbered version.
func stepSave(id string, version int64, st signup.Status, audit *signup.AuditEntry) *activities.SaveSignupInput {
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC).Add(time.Duration(version) * time.Minute)
	return &activities.SaveSignupInput{
		View:    signup.View{SignupID: id, Status: st, AcceptedTerms: []string{"privacy", "service"}, CreatedAt: at.Add(-time.Hour), UpdatedAt: at},
		Version: version, TokenHash: "h", Audit: audit,
	}
}

// readModel is the sign-up's row and its view.
func (f fixture) readModel(t *testing.T, id string) (models.Signup, signup.View) {
	t.Helper()
	var row models.Signup
	if err := f.db.Where("id = ?", id).Take(&row).Error; err != nil {
		t.Fatalf("read model of %s: %v", id, err)
	}
	var v signup.View
	if err := json.Unmarshal([]byte(row.View), &v); err != nil {
		t.Fatal(err)
	}
	return row, v
}

// stepActivities are the activities with a bound on open sign-ups per
// business number and a count of the metrics events.
func stepActivities(f fixture, events *atomic.Int64) *activities.Activities {
	return activities.New(activities.Deps{DB: f.db, Certificates: f.certs, Log: slog.New(slog.DiscardHandler), MaxOpenPerBusiness: 3,
		Events: func(signup.Event) { events.Add(1) }})
}

// Each step's activity given the next view writes it in its own
// transaction, with what the step learnt filled in; run twice, it leaves
// what one run leaves (one row at the save's version, one audit row, one
// metrics event), and the view the first run wrote. The input is not
// changed.
func TestStepsSaveTheirView(t *testing.T) {
	ctx := context.Background()
	ready := &signup.AuditEntry{Actor: signup.Actor{Kind: signup.ActorUser}, Action: signup.ActionOrganizationSet,
		From: signup.StatusOrganizationInfo, To: signup.StatusReady}
	tests := []struct {
		name  string
		audit *signup.AuditEntry
		run   func(acts *activities.Activities, id, cert string, save *activities.SaveSignupInput) error
		check func(t *testing.T, f fixture, id, cert string, v signup.View)
	}{
		{"AttachCertificate", nil, func(acts *activities.Activities, id, cert string, save *activities.SaveSignupInput) error {
			c, err := acts.AttachCertificate(ctx, activities.AttachCertificateInput{SignupID: id, CertificateID: cert, Save: save})
			if err == nil && c.ID != cert {
				t.Errorf("attached %+v", c)
			}
			return err
		}, func(t *testing.T, f fixture, id, cert string, v signup.View) {
			if v.Certificate == nil || v.Certificate.ID != cert || v.Certificate.Filename != "c.pdf" || v.Certificate.SHA256 == "" {
				t.Errorf("view's certificate %+v", v.Certificate)
			}
			if n := f.count(t, &models.Certificate{}, "signup_id = ? AND state = 'stored'", id); n != 1 {
				t.Errorf("%d stored certificates, want 1 (the replaced one retired)", n)
			}
		}},
		{"VerifyBusinessNumber", nil, func(acts *activities.Activities, id, _ string, save *activities.SaveSignupInput) error {
			v, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "2208162517", SignupID: id, Save: save})
			if err == nil && (!v.Verified || v.BusinessNumber != "220-81-62517") {
				t.Errorf("verified %+v", v)
			}
			return err
		}, func(t *testing.T, f fixture, id, _ string, v signup.View) {
			b := v.Business
			if b == nil || !b.Verified || b.BusinessNumber != "220-81-62517" || b.VerificationSource != signup.SourceChecksum || b.VerifiedAt == nil {
				t.Errorf("view's business %+v", b)
			}
			if n := f.count(t, &models.BusinessNumberSlot{}, "signup_id = ?", id); n != 1 {
				t.Errorf("%d slots, want 1: the other number's given back", n)
			}
		}},
		{"ReserveName", ready, func(acts *activities.Activities, id, _ string, save *activities.SaveSignupInput) error {
			return acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: id, Name: id + "-co", Save: save})
		}, func(t *testing.T, f fixture, id, _ string, v signup.View) {
			if n := f.count(t, &models.NameReservation{}, "signup_id = ? AND name_key = ?", id, id+"-co"); n != 1 {
				t.Errorf("%d reservations, want 1", n)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			var events atomic.Int64
			acts := stepActivities(f, &events)
			id := strings.ToLower(tt.name)
			// What the sign-up held before the step: a certificate, a
			// verified number, its view at version 3.
			if _, err := acts.AttachCertificate(ctx, activities.AttachCertificateInput{SignupID: id, CertificateID: upload(t, f, id)}); err != nil {
				t.Fatal(err)
			}
			cert := upload(t, f, id)
			if _, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "1248100998", SignupID: id}); err != nil {
				t.Fatal(err)
			}
			from, to := signup.StatusUserInfo, signup.StatusUserInfo
			if tt.audit != nil {
				from, to = tt.audit.From, tt.audit.To
			}
			if err := acts.SaveSignup(ctx, *stepSave(id, 3, from, nil)); err != nil {
				t.Fatal(err)
			}
			save := stepSave(id, 4, to, tt.audit)
			var first signup.View
			for i := 0; i < 2; i++ {
				if err := tt.run(acts, id, cert, save); err != nil {
					t.Fatalf("run #%d: %v", i, err)
				}
				row, v := f.readModel(t, id)
				if row.Version != 4 || row.Status != string(save.View.Status) || !v.UpdatedAt.Equal(save.View.UpdatedAt) {
					t.Fatalf("run #%d: read model %s v%d updated %v; want %s v4 updated %v", i, row.Status, row.Version, v.UpdatedAt, save.View.Status, save.View.UpdatedAt)
				}
				tt.check(t, f, id, cert, v)
				if i == 0 {
					first = v
				} else if !viewsEqual(t, v, first) {
					t.Errorf("the second run wrote %+v over the first's %+v", v, first)
				}
			}
			if save.View.Certificate != nil || save.View.Business != nil {
				t.Error("the input's view was changed")
			}
			wantAudit := int64(0)
			if tt.audit != nil {
				wantAudit = 1
			}
			if n := f.count(t, &models.AuditEvent{}, "signup_id = ?", id); n != wantAudit {
				t.Errorf("%d audit rows, want %d", n, wantAudit)
			}
			wantEvents := int64(0)
			if tt.audit.Event() != "" {
				wantEvents = 1
			}
			if n := events.Load(); n != wantEvents {
				t.Errorf("%d metrics events, want %d", n, wantEvents)
			}

			// A newer save landed meanwhile: a late run of the step does not
			// overwrite it.
			newer := stepSave(id, 5, signup.StatusReady, nil)
			if err := acts.SaveSignup(ctx, *newer); err != nil {
				t.Fatal(err)
			}
			if err := tt.run(acts, id, cert, save); err != nil {
				t.Fatalf("late run: %v", err)
			}
			if row, v := f.readModel(t, id); row.Version != 5 || !v.UpdatedAt.Equal(newer.View.UpdatedAt) || v.Certificate != nil || v.Business != nil {
				t.Errorf("a late run overwrote a newer save: v%d %+v", row.Version, v)
			}
		})
	}
}

// viewsEqual compares two views as the read model stores them.
func viewsEqual(t *testing.T, a, b signup.View) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

// upload stores a certificate for the sign-up, as the API does, and
// returns its id.
func upload(t *testing.T, f fixture, signupID string) string {
	t.Helper()
	c, err := f.certs.Upload(context.Background(), signupID, "c.pdf", "application/pdf", strings.NewReader("%PDF-1.4"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// A refused step saves nothing: no read-model row, no audit, and what the
// step would have changed stays as it was.
func TestRefusedStepsSaveNothing(t *testing.T) {
	ctx := context.Background()
	f, acts := bounded(t, 3)
	if err := acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "holder", Name: "held-co"}); err != nil {
		t.Fatal(err)
	}
	if err := acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "r", Name: "mine-co"}); err != nil {
		t.Fatal(err)
	}
	if _, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "2208162517", SignupID: "r"}); err != nil {
		t.Fatal(err)
	}
	save := stepSave("r", 4, signup.StatusReady, &signup.AuditEntry{Actor: signup.Actor{Kind: signup.ActorUser},
		Action: signup.ActionOrganizationSet, From: signup.StatusOrganizationInfo, To: signup.StatusReady})
	refusals := []struct {
		name, code string
		run        func() error
	}{
		{"name taken", signup.CodeOrganizationNameTaken, func() error {
			return acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "r", Name: "Held-Co", Save: save})
		}},
		{"certificate gone", signup.CodeCertificateMissing, func() error {
			_, err := acts.AttachCertificate(ctx, activities.AttachCertificateInput{SignupID: "r", CertificateID: "gone", Save: save})
			return err
		}},
		{"business not registered", signup.CodeBusinessNotRegistered, func() error {
			_, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "1208147521", SignupID: "r", Save: save})
			return err
		}},
	}
	for _, r := range refusals {
		if err := r.run(); errType(err) != r.code {
			t.Errorf("%s: %v, want %s", r.name, err, r.code)
		}
	}
	f.wantRows(t, "r", []rowCount{
		{"read-model rows", &models.Signup{}, "id = ?", 0},
		{"audit rows", &models.AuditEvent{}, "signup_id = ?", 0},
		{"reservations of its own name", &models.NameReservation{}, "signup_id = ? AND name_key = 'mine-co'", 1},
		{"slots of its verified number", &models.BusinessNumberSlot{}, "signup_id = ? AND business_number = '220-81-62517'", 1},
		{"slots of the unregistered number", &models.BusinessNumberSlot{}, "signup_id = ? AND business_number = '120-81-47521'", 0},
	})
}

// A step with its save runs no more statements than the step and a
// SaveSignup apart (and one transaction instead of two).
func TestStepSaveStatements(t *testing.T) {
	ctx := context.Background()
	steps := []struct {
		name string
		run  func(acts *activities.Activities, cert string, save *activities.SaveSignupInput) error
	}{
		{"AttachCertificate", func(acts *activities.Activities, cert string, save *activities.SaveSignupInput) error {
			_, err := acts.AttachCertificate(ctx, activities.AttachCertificateInput{SignupID: "s", CertificateID: cert, Save: save})
			return err
		}},
		{"VerifyBusinessNumber", func(acts *activities.Activities, _ string, save *activities.SaveSignupInput) error {
			_, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "2208162517", SignupID: "s", Save: save})
			return err
		}},
		{"ReserveName", func(acts *activities.Activities, _ string, save *activities.SaveSignupInput) error {
			return acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "s", Name: "stmt-co", Save: save})
		}},
	}
	// count runs the step on a database of its own, with its save or
	// followed by SaveSignup, and returns the statements both ran.
	count := func(run func(acts *activities.Activities, cert string, save *activities.SaveSignupInput) error, folded bool) int64 {
		t.Helper()
		f := newFixture(t, nil)
		var events atomic.Int64
		acts := stepActivities(f, &events)
		save := stepSave("s", 4, signup.StatusReady, &signup.AuditEntry{Actor: signup.Actor{Kind: signup.ActorUser},
			Action: signup.ActionOrganizationSet, From: signup.StatusOrganizationInfo, To: signup.StatusReady})
		upload(t, f, "s") // one the attach replaces
		cert := upload(t, f, "s")
		n := statements(t, f.db.DB)
		if folded {
			if err := run(acts, cert, save); err != nil {
				t.Fatal(err)
			}
			return n.Load()
		}
		if err := run(acts, cert, nil); err != nil {
			t.Fatal(err)
		}
		if err := acts.SaveSignup(ctx, *save); err != nil {
			t.Fatal(err)
		}
		return n.Load()
	}
	for _, s := range steps {
		apart, folded := count(s.run, false), count(s.run, true)
		t.Logf("%s: %d statements with its save, %d with a SaveSignup after it", s.name, folded, apart)
		if folded > apart {
			t.Errorf("%s: %d statements with its save, more than %d apart", s.name, folded, apart)
		}
	}
}
