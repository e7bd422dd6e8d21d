package activities_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/certstore/certstoretest"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/models"
)

func openCerts(t *testing.T, db *store.DB) (*certstore.Store, string) {
	t.Helper()
	url, dir := certstoretest.FileURL(t)
	kr, _ := codec.ParseKeyring(codec.NewKeySpec("t1"))
	s, err := certstore.Open(context.Background(), url, kr, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

type erasedCount struct {
	mu sync.Mutex
	n  map[string]int
}

func (e *erasedCount) add(trigger string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n = map[string]int{}
	}
	e.n[trigger]++
}

func (e *erasedCount) get(trigger string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n[trigger]
}

func (f fixture) upload(t *testing.T, signupID string) models.Certificate {
	t.Helper()
	c, err := f.certs.Upload(context.Background(), signupID, "cert.pdf", "application/pdf",
		strings.NewReader("%PDF-1.4 certificate of "+signupID), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// objects counts the certificate objects on disk (not their attribute files).
func (f fixture) objects(t *testing.T) int {
	t.Helper()
	n := 0
	for _, p := range certstoretest.Files(t, f.certDir) {
		if !strings.HasSuffix(p, ".attrs") {
			n++
		}
	}
	return n
}

func TestAttachCertificateTwice(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	first, second := f.upload(t, "att"), f.upload(t, "att")
	other := f.upload(t, "someone-else")
	for i := 0; i < 2; i++ {
		got, err := f.acts.AttachCertificate(ctx, activities.AttachCertificateInput{SignupID: "att", CertificateID: second.ID})
		if err != nil {
			t.Fatalf("attach #%d: %v", i, err)
		}
		if got.ID != second.ID || got.SHA256 != second.SHA256 || got.Size != second.Size {
			t.Fatalf("attach #%d: %+v", i, got)
		}
	}
	if n := f.count(t, &models.Certificate{}, "signup_id = ?", "att"); n != 1 {
		t.Errorf("%d certificates kept; the replaced one must go", n)
	}
	if n := f.count(t, &models.Certificate{}, "id = ?", first.ID); n != 0 {
		t.Error("the replaced certificate's row is kept")
	}
	if n := f.objects(t); n != 2 {
		t.Errorf("%d objects, want 2 (the attached one and another sign-up's)", n)
	}
	// Another sign-up's certificate cannot be attached.
	if _, err := f.acts.AttachCertificate(ctx, activities.AttachCertificateInput{SignupID: "att", CertificateID: other.ID}); errType(err) != signup.CodeCertificateMissing {
		t.Errorf("attach of another sign-up's certificate: %v", err)
	}
}

func TestReleaseDeletesCertificates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.upload(t, "rel")
	f.upload(t, "rel")
	for i := 0; i < 2; i++ {
		if err := f.acts.ReleaseSignup(ctx, activities.ReleaseInput{SignupID: "rel", Reason: "abandoned"}); err != nil {
			t.Fatalf("release #%d: %v", i, err)
		}
	}
	if n := f.count(t, &models.Certificate{}, "signup_id = ?", "rel"); n != 0 {
		t.Errorf("%d certificate rows kept", n)
	}
	if n := f.objects(t); n != 0 {
		t.Errorf("%d objects kept", n)
	}
}

// personal is every piece of personal data the test sign-ups carry.
var personal = []string{"Lee Ji-eun", "owner@", "+821012345678", "Kim Min-su", "+8221234567", "Pangyo-ro", "billing@", "220-81-62517", "Acme Korea", "erase-co"}

// endedSignup writes the read model of a sign-up that ended as status at
// endedAt, full of personal data, with audit details quoting some.
func (f fixture) endedSignup(t *testing.T, id string, status signup.Status, endedAt time.Time) {
	t.Helper()
	now := endedAt
	v := signup.View{SignupID: id, Status: status, AcceptedTerms: []string{"privacy", "service"},
		Business: &signup.Business{BusinessNumber: "220-81-62517", Verified: true, BillingEmail: "billing@example.com",
			CompanyName: "Acme Korea", RepresentativeName: "Kim Min-su", RepresentativePhone: "+8221234567", Address: "Pangyo-ro 235"},
		Organization: &signup.Organization{OrganizationName: id + "-erase-co", ContactName: "Lee Ji-eun",
			ContactEmail: "owner@" + id + ".example.com", MobilePhone: "+821012345678"},
		CreatedAt: now.Add(-time.Hour), UpdatedAt: now}
	if err := f.acts.SaveSignup(context.Background(), activities.SaveSignupInput{View: v, TokenHash: "h", Version: 5,
		LastError: "send_invitation: 550 mailbox owner@" + id + ".example.com unknown",
		Audit: &signup.AuditEntry{Actor: signup.Actor{Kind: signup.ActorOperator, Name: "ops"}, Action: signup.Action(status),
			From: signup.StatusReady, To: status, Detail: "asked by Lee Ji-eun, +821012345678"}}); err != nil {
		t.Fatal(err)
	}
}

// assertErased checks a sign-up's row and audit trail hold no personal data.
func (f fixture) assertErased(t *testing.T, id string) models.Signup {
	t.Helper()
	var row models.Signup
	if err := f.db.Where("id = ?", id).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.ErasedAt == nil || row.OrganizationName != nil || row.BusinessNumber != nil || row.ContactEmail != nil || row.LastError != nil {
		t.Fatalf("row not erased: %+v", row)
	}
	all, _ := json.Marshal(row)
	var audits []models.AuditEvent
	f.db.Where("signup_id = ?", id).Find(&audits)
	a, _ := json.Marshal(audits)
	for _, p := range personal {
		if bytes.Contains(all, []byte(p)) || bytes.Contains(a, []byte(p)) {
			t.Errorf("%q left in the erased sign-up %s: %s %s", p, id, all, a)
		}
	}
	// The business number also sits in its open-sign-up slots.
	if n := f.count(t, &models.BusinessNumberSlot{}, "signup_id = ?", id); n != 0 {
		t.Errorf("%d business number slots kept by the erased sign-up %s", n, id)
	}
	var v signup.View
	if err := json.Unmarshal([]byte(row.View), &v); err != nil {
		t.Fatal(err)
	}
	if v.SignupID != id || v.Status != signup.Status(row.Status) || v.CreatedAt.IsZero() || v.Business != nil || v.Organization != nil {
		t.Errorf("erased view: %s", row.View)
	}
	return row
}

func TestEraseSignupTwice(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.endedSignup(t, "gone", signup.StatusAbandoned, time.Now())
	f.upload(t, "gone")
	// A slot its release did not get to (a release retried after the erase).
	if err := f.db.Create(&models.BusinessNumberSlot{BusinessNumber: "2208162517", Slot: 1, SignupID: "gone", CreatedAt: time.Now()}).Error; err != nil {
		t.Fatal(err)
	}
	in := activities.EraseInput{SignupID: "gone", Operator: "kim.ops", Reason: "ticket 4711"}
	for i := 0; i < 2; i++ {
		v, err := f.acts.EraseSignup(ctx, in)
		if err != nil {
			t.Fatalf("erase #%d: %v", i, err)
		}
		if v.SignupID != "gone" || v.ErasedAt == nil || v.Organization != nil {
			t.Fatalf("erase #%d answered %+v", i, v)
		}
	}
	f.assertErased(t, "gone")
	var ev []models.AuditEvent
	f.db.Where("signup_id = ? AND action = ?", "gone", "personal_data_erased").Find(&ev)
	if len(ev) != 1 || ev[0].Actor != string(signup.ActorOperator) || ev[0].Detail == nil || *ev[0].Detail != "kim.ops: ticket 4711" {
		t.Errorf("erase audit: %+v", ev)
	}
	if n := f.objects(t); n != 0 {
		t.Errorf("%d certificate objects kept", n)
	}
	if n := f.erased.get("request"); n != 1 {
		t.Errorf("counted %d erasures, want 1", n)
	}
	// A save arriving late does not bring the data back.
	_ = f.acts.SaveSignup(ctx, activities.SaveSignupInput{View: signup.View{SignupID: "gone", Status: signup.StatusAbandoned,
		Organization: &signup.Organization{ContactName: "Lee Ji-eun"}}, TokenHash: "h", Version: 99})
	f.assertErased(t, "gone")

	// Not ended yet, and unknown.
	f.endedSignup(t, "live", signup.StatusReady, time.Now())
	if _, err := f.acts.EraseSignup(ctx, activities.EraseInput{SignupID: "live"}); errType(err) != signup.CodeNotEnded {
		t.Errorf("erase of a ready sign-up: %v", err)
	}
	if _, err := f.acts.EraseSignup(ctx, activities.EraseInput{SignupID: "nope"}); errType(err) != signup.CodeSignupNotFound {
		t.Errorf("erase of an unknown sign-up: %v", err)
	}
	var live models.Signup
	f.db.Where("id = ?", "live").Take(&live)
	if live.ErasedAt != nil || live.ContactEmail == nil {
		t.Error("a live sign-up was erased")
	}
}

func TestPurgeBatch(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	long := time.Now().Add(-48 * time.Hour)
	f.endedSignup(t, "old-abandoned", signup.StatusAbandoned, long)
	f.upload(t, "old-abandoned")
	f.endedSignup(t, "old-active", signup.StatusActive, long)
	f.endedSignup(t, "new-cancelled", signup.StatusCancelled, time.Now())

	// Cancelled after provisioning: the organization keeps its business
	// profile and the certificate it cites; its users lose their data.
	f.endedSignup(t, "old-cancelled", signup.StatusCancelled, long.Add(time.Minute))
	cited := f.upload(t, "old-cancelled")
	stray := f.upload(t, "old-cancelled")
	if err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "old-cancelled", Name: "old-cancelled-co"}); err != nil {
		t.Fatal(err)
	}
	in := provisionInput("old-cancelled", "old-cancelled-co")
	in.CertificateID = cited.ID
	prov, err := f.acts.ProvisionOwner(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.acts.ReleaseSignup(ctx, activities.ReleaseInput{SignupID: "old-cancelled", Reason: "cancelled"}); err != nil {
		t.Fatal(err)
	}

	cutoff := time.Now().Add(-24 * time.Hour)
	var total int
	for i := 0; ; i++ {
		res, err := f.acts.PurgeBatch(ctx, activities.PurgeBatchInput{Cutoff: cutoff, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		total += res.Erased
		if !res.More {
			break
		}
		if i > 5 {
			t.Fatal("the purge does not end")
		}
	}
	if total != 2 {
		t.Errorf("erased %d, want 2 (old-abandoned, old-cancelled)", total)
	}
	// Again: nothing left to do.
	if res, err := f.acts.PurgeBatch(ctx, activities.PurgeBatchInput{Cutoff: cutoff, Limit: 10}); err != nil || res.Erased != 0 || res.More {
		t.Errorf("second purge: %+v, %v", res, err)
	}
	if n := f.erased.get("retention"); n != 2 {
		t.Errorf("counted %d, want 2", n)
	}
	f.assertErased(t, "old-abandoned")
	f.assertErased(t, "old-cancelled")
	for _, id := range []string{"old-active", "new-cancelled"} {
		var row models.Signup
		f.db.Where("id = ?", id).Take(&row)
		if row.ErasedAt != nil || row.ContactEmail == nil {
			t.Errorf("%s was erased", id)
		}
	}
	var u models.User
	f.db.Where("id = ?", prov.UserID).Take(&u)
	if u.Name != "" || u.Phone != "" || u.PasswordHash != nil || !strings.HasPrefix(u.Email, "erased-") {
		t.Errorf("the disabled owner keeps personal data: %+v", u)
	}
	if n := f.count(t, &models.BusinessProfile{}, "signup_id = ? AND certificate_id = ?", "old-cancelled", cited.ID); n != 1 {
		t.Error("the provisioned organization lost its business profile")
	}
	if n := f.count(t, &models.Certificate{}, "signup_id = ?", "old-cancelled"); n != 1 {
		t.Errorf("%d certificates of the cancelled organization, want only the cited one", n)
	}
	if n := f.count(t, &models.Certificate{}, "id = ?", stray.ID); n != 0 {
		t.Error("the certificate no profile cites was kept")
	}
	if n := f.count(t, &models.Certificate{}, "signup_id = ?", "old-abandoned"); n != 0 {
		t.Error("the abandoned sign-up's certificate was kept")
	}
	if n := f.objects(t); n != 1 {
		t.Errorf("%d certificate objects, want 1 (the cited one)", n)
	}
}

func TestSweepCertificatesTwice(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	c := f.upload(t, "sw")
	f.db.Model(&models.Certificate{}).Where("id = ?", c.ID).Updates(map[string]any{
		"state": certstore.StateUploading, "created_at": time.Now().Add(-time.Hour).UTC()})
	want := 1
	for i := 0; i < 2; i++ {
		n, err := f.acts.SweepCertificates(ctx, activities.SweepInput{Before: time.Now().Add(-time.Minute)})
		if err != nil || n != want {
			t.Fatalf("sweep #%d: %d, %v; want %d", i, n, err, want)
		}
		want = 0
	}
	if f.objects(t) != 0 || f.count(t, &models.Certificate{}, "signup_id = ?", "sw") != 0 {
		t.Error("the unfinished upload is still there")
	}
}
