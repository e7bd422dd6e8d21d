package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/mailer"
	"github.com/kcloud/onboarding/internal/nts"
	"github.com/kcloud/onboarding/internal/retention"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/models"
)

type fixture struct {
	db      *store.DB
	box     *mailbox.Store
	smtp    *mailbox.Server
	acts    *activities.Activities
	certs   *certstore.Store
	certDir string
	erased  *erasedCount
}

func newFixture(t *testing.T, ntsClient *nts.Client) fixture {
	t.Helper()
	db := storetest.Open(t)
	box, _ := mailbox.Open("")
	srv, err := mailbox.Listen("127.0.0.1:0", box, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	host, portStr, _ := net.SplitHostPort(srv.Addr())
	port, _ := strconv.Atoi(portStr)
	certs, certDir := openCerts(t, db)
	erased := &erasedCount{}
	acts := activities.New(activities.Deps{
		DB:            db,
		Mailer:        mailer.NewSMTP(mailer.Config{Host: host, Port: port, TLS: "none", From: "test@onboarding.local"}),
		NTS:           ntsClient,
		NTSCacheTTL:   time.Hour,
		PublicBaseURL: "http://console.test",
		ResetTokenTTL: time.Hour,
		Log:           slog.New(slog.DiscardHandler),
		Certificates:  certs,
		Eraser:        retention.New(db, certs, erased.add, slog.New(slog.DiscardHandler)),
	})
	return fixture{db: db, box: box, smtp: srv, acts: acts, certs: certs, certDir: certDir, erased: erased}
}

func (f fixture) count(t *testing.T, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := f.db.Model(model).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// rowCount is how many rows of model match where (one argument) there should be.
type rowCount struct {
	what  string
	model any
	where string
	want  int64
}

// wantRows checks each count, with arg as its where's argument.
func (f fixture) wantRows(t *testing.T, arg any, counts []rowCount) {
	t.Helper()
	for _, c := range counts {
		if got := f.count(t, c.model, c.where, arg); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
}

// reserve holds name for the sign-up, failing the test when it cannot.
func (f fixture) reserve(t *testing.T, signupID, name string) {
	t.Helper()
	if err := f.acts.ReserveName(context.Background(), activities.ReserveNameInput{SignupID: signupID, Name: name}); err != nil {
		t.Fatal(err)
	}
}

func errType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return ""
}

func provisionInput(id, name string) activities.ProvisionInput {
	now := time.Now().UTC()
	return activities.ProvisionInput{
		SignupID: id,
		Business: signup.Business{BusinessNumber: "220-81-62517", Verified: true, BusinessStatus: "active",
			VerificationSource: "checksum", VerifiedAt: &now, CompanyName: "Acme", BillingEmail: "b@example.com",
			RepresentativeName: "Kim", RepresentativePhone: "+8221234567", Address: "Seoul",
			BusinessType: "Service", BusinessCategory: "Software"},
		Organization: signup.Organization{OrganizationName: name, ContactName: "Lee",
			ContactEmail: "owner@" + name + ".example.com", MobilePhone: "+821012345678"},
	}
}

// Every activity run twice leaves what one run leaves.
func TestActivitiesAreIdempotent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := "idem"
	for i := 0; i < 2; i++ {
		if err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: id, Name: "idem-co"}); err != nil {
			t.Fatalf("reserve #%d: %v", i, err)
		}
	}
	var first activities.ProvisionResult
	for i := 0; i < 2; i++ {
		res, err := f.acts.ProvisionOwner(ctx, provisionInput(id, "idem-co"))
		if err != nil {
			t.Fatalf("provision #%d: %v", i, err)
		}
		if i == 0 {
			first = res
		} else if res != first {
			t.Fatalf("second provision returned %+v, first %+v", res, first)
		}
	}
	exp := time.Now().Add(time.Hour)
	for i := 0; i < 2; i++ {
		if _, err := f.acts.SendInvitation(ctx, activities.SendInvitationInput{SignupID: id, Seq: 1, Kind: signup.InvitationFirst, ExpiresAt: exp}); err != nil {
			t.Fatalf("invite #%d: %v", i, err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := f.acts.SaveSignup(ctx, activities.SaveSignupInput{
			View:    signup.View{SignupID: id, Status: signup.StatusInvited, CreatedAt: time.Now(), UpdatedAt: time.Now()},
			Version: 3, TokenHash: "h", Audit: &signup.AuditEntry{Actor: signup.Actor{Kind: "system"}, Action: "x", To: signup.StatusInvited},
		}); err != nil {
			t.Fatalf("save #%d: %v", i, err)
		}
	}
	f.wantRows(t, id, []rowCount{
		{"reservations", &models.NameReservation{}, "signup_id = ?", 1},
		{"organizations", &models.Organization{}, "signup_id = ?", 1},
		{"business profiles", &models.BusinessProfile{}, "signup_id = ?", 1},
		{"invitation links", &models.InvitationToken{}, "signup_id = ?", 1},
		{"live invitation links", &models.InvitationToken{}, "signup_id = ? AND status = 'pending'", 1},
		{"sign-up rows", &models.Signup{}, "id = ?", 1},
		{"audit events of the save", &models.AuditEvent{}, "signup_id = ? AND action = 'x'", 1},
	})
	if got := f.count(t, &models.User{}, "organization_id = ?", first.OrganizationID); got != 1 {
		t.Errorf("users: %d", got)
	}
	if got := f.count(t, &models.RoleAssignment{}, "user_id = ?", first.UserID); got != 2 {
		t.Errorf("role assignments: %d", got)
	}
	// Both sends went out with the same Message-ID: a duplicate a receiver can drop.
	msgs := f.box.List()
	if len(msgs) != 2 || msgs[0].MessageID != msgs[1].MessageID {
		t.Errorf("mails %d, ids %v", len(msgs), msgs)
	}

	// An older save never overwrites a newer one.
	if err := f.acts.SaveSignup(ctx, activities.SaveSignupInput{
		View: signup.View{SignupID: id, Status: signup.StatusReady, CreatedAt: time.Now(), UpdatedAt: time.Now()}, Version: 2, TokenHash: "h",
	}); err != nil {
		t.Fatal(err)
	}
	var row models.Signup
	f.db.Where("id = ?", id).Take(&row)
	if row.Status != string(signup.StatusInvited) || row.Version != 3 {
		t.Errorf("read model moved backwards: %s v%d", row.Status, row.Version)
	}

	for i := 0; i < 2; i++ {
		res, err := f.acts.ExpireInvitation(ctx, activities.ExpireInput{SignupID: id})
		if err != nil || res.AlreadyActive {
			t.Fatalf("expire #%d: %+v, %v", i, res, err)
		}
	}
	if got := f.count(t, &models.User{}, "id = ? AND status = ?", first.UserID, models.UserResetRequired); got != 1 {
		t.Error("owner not reset_required after expiry")
	}
	if got := f.count(t, &models.AuditEvent{}, "signup_id = ? AND action = 'invitation_expired'", id); got != 1 {
		t.Errorf("%d expiry audit events", got)
	}
	for i := 0; i < 2; i++ {
		if err := f.acts.ReleaseSignup(ctx, activities.ReleaseInput{SignupID: id, Reason: "cancelled"}); err != nil {
			t.Fatalf("release #%d: %v", i, err)
		}
	}
	if got := f.count(t, &models.Organization{}, "signup_id = ? AND status = 'disabled' AND name_key IS NULL", id); got != 1 {
		t.Error("organization not disabled with its name freed")
	}
	if got := f.count(t, &models.NameReservation{}, "signup_id = ?", id); got != 0 {
		t.Error("reservation kept")
	}
	// The name is free again.
	if err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "next", Name: "IDEM-CO"}); err != nil {
		t.Errorf("name not free after release: %v", err)
	}
}

func TestReserveName(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	steps := []struct {
		signup, name, wantErr string
	}{
		{"a", "alpha", ""},
		{"b", "ALPHA", signup.CodeOrganizationNameTaken},
		{"b", "beta", ""},
		{"a", "alpha-2", ""}, // moves a's reservation
		{"b", "alpha", ""},   // alpha is free again; b's beta is released
		{"c", "alpha-2", signup.CodeOrganizationNameTaken},
		{"c", "beta", ""},
		{"c", "bad--name", signup.CodeValidationFailed},
	}
	for _, s := range steps {
		err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: s.signup, Name: s.name})
		if errType(err) != s.wantErr || (s.wantErr == "" && err != nil) {
			t.Fatalf("%s reserves %s: %v, want %q", s.signup, s.name, err, s.wantErr)
		}
	}
	if got := f.count(t, &models.NameReservation{}, "1 = 1"); got != 3 {
		t.Errorf("%d reservations, want 3 (a alpha-2, b alpha, c beta)", got)
	}
	// An organization's name is taken for reservations too.
	if err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "d", Name: "gamma"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acts.ProvisionOwner(ctx, provisionInput("d", "gamma")); err != nil {
		t.Fatal(err)
	}
	avail, err := signup.CheckName(ctx, f.db.DB, "Gamma")
	if err != nil || avail.Available || *avail.Reason != "taken" {
		t.Errorf("availability of an organization's name: %+v, %v", avail, err)
	}
	avail, _ = signup.CheckName(ctx, f.db.DB, "beta")
	if avail.Available || *avail.Reason != "reserved" {
		t.Errorf("availability of a reserved name: %+v", avail)
	}
	avail, _ = signup.CheckName(ctx, f.db.DB, "-x")
	if avail.Available || *avail.Reason != "invalid" {
		t.Errorf("availability of an invalid name: %+v", avail)
	}
	avail, _ = signup.CheckName(ctx, f.db.DB, "delta")
	if !avail.Available || avail.Reason != nil {
		t.Errorf("availability of a free name: %+v", avail)
	}
	// An organization's name without a reservation is still taken.
	if err := f.db.Where("name_key = ?", "gamma").Delete(&models.NameReservation{}).Error; err != nil {
		t.Fatal(err)
	}
	if err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "e", Name: "gamma"}); errType(err) != signup.CodeOrganizationNameTaken {
		t.Errorf("reserving an organization's name: %v, want %s", err, signup.CodeOrganizationNameTaken)
	}
	if got := f.count(t, &models.NameReservation{}, "signup_id = ?", "e"); got != 0 {
		t.Errorf("%d reservations for e after a taken name, want 0", got)
	}
}

// fakeNTS speaks the tax service's documented JSON.
type fakeNTS struct {
	calls   atomic.Int32
	handler func(w http.ResponseWriter, numbers []string)
}

func (f *fakeNTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if r.URL.Path != "/status" || r.URL.Query().Get("serviceKey") != "key+/=" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var req struct {
		BNo []string `json:"b_no"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"status_code":"BAD_JSON_REQUEST"}`))
		return
	}
	f.handler(w, req.BNo)
}

func statusBody(code string) func(http.ResponseWriter, []string) {
	return func(w http.ResponseWriter, numbers []string) {
		var data []map[string]string
		for _, n := range numbers {
			data = append(data, map[string]string{"b_no": n, "b_stt_cd": code, "tax_type": "x", "end_dt": ""})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status_code": "OK", "request_cnt": len(numbers), "data": data})
	}
}

func TestVerifyBusinessNumber(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		handler    func(http.ResponseWriter, []string)
		key        string
		wantType   string // "" success; "retryable" a retryable error
		wantSource string
	}{
		{"active", statusBody("01"), "key+/=", "", signup.SourceNTS},
		{"suspended", statusBody("02"), "key+/=", signup.CodeBusinessNotActive, ""},
		{"closed", statusBody("03"), "key+/=", signup.CodeBusinessNotActive, ""},
		{"unregistered", statusBody(""), "key+/=", signup.CodeBusinessNotRegistered, ""},
		{"bad key 401", statusBody("01"), "wrong", signup.CodeNTSRejected, ""},
		{"413", func(w http.ResponseWriter, _ []string) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = w.Write([]byte(`{"status_code":"TOO_LARGE_REQUEST"}`))
		}, "key+/=", signup.CodeNTSRejected, ""},
		{"500", func(w http.ResponseWriter, _ []string) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"status_code":"INTERNAL_ERROR"}`))
		}, "key+/=", "retryable", ""},
		{"malformed body", func(w http.ResponseWriter, _ []string) { _, _ = w.Write([]byte(`{"data":[`)) }, "key+/=", "retryable", ""},
		{"slow answer", func(w http.ResponseWriter, n []string) {
			time.Sleep(500 * time.Millisecond)
			statusBody("01")(w, n)
		}, "key+/=", "retryable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeNTS{handler: tt.handler}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			f := newFixture(t, nts.NewClient(srv.URL, tt.key, 200*time.Millisecond, srv.Client()))
			v, err := f.acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "220-81-62517"})
			switch tt.wantType {
			case "":
				if err != nil || !v.Verified || v.Source != tt.wantSource || v.BusinessNumber != "220-81-62517" {
					t.Fatalf("got %+v, %v", v, err)
				}
			case "retryable":
				var app *temporal.ApplicationError
				if err == nil || (errors.As(err, &app) && app.NonRetryable()) {
					t.Fatalf("got %v, want a retryable error", err)
				}
			default:
				if errType(err) != tt.wantType {
					t.Fatalf("got %v, want %s", err, tt.wantType)
				}
			}
			// A definite answer is cached: asking again makes no call.
			if tt.wantType == "" || tt.wantType == signup.CodeBusinessNotActive || tt.wantType == signup.CodeBusinessNotRegistered {
				calls := fake.calls.Load()
				_, err2 := f.acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "2208162517"})
				if fake.calls.Load() != calls || errType(err2) != errType(err) {
					t.Errorf("second verify called the service again or changed its answer: %v", err2)
				}
			}
		})
	}
	t.Run("checksum only without a key", func(t *testing.T) {
		f := newFixture(t, nil)
		v, err := f.acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "2208162517"})
		if err != nil || v.Source != signup.SourceChecksum {
			t.Fatalf("got %+v, %v", v, err)
		}
		for _, bad := range []string{"123-45-67890", "000-00-00000", "12"} {
			if _, err := f.acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: bad}); errType(err) != signup.CodeInvalidBusinessNumber {
				t.Errorf("%s: %v", bad, err)
			}
		}
	})
}

// A retried SendInvitation gives its Seq's link a new hash and expiry and
// makes it pending again, unless it was used: a used link stays as it is.
// Once a later Seq is out, the pending earlier links are revoked, not a
// used one.
func TestSendInvitationLinkRows(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := "links"
	if err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: id, Name: "links-co"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acts.ProvisionOwner(ctx, provisionInput(id, "links-co")); err != nil {
		t.Fatal(err)
	}
	sends := 0
	send := func(seq int) {
		t.Helper()
		sends++
		in := activities.SendInvitationInput{SignupID: id, Seq: seq, Kind: signup.InvitationFirst,
			ExpiresAt: time.Now().UTC().Add(time.Duration(sends) * time.Hour)}
		if res, err := f.acts.SendInvitation(ctx, in); err != nil || res.SentAt.IsZero() {
			t.Fatalf("send #%d (seq %d): %+v, %v", sends, seq, res, err)
		}
	}
	link := func(seq int) models.InvitationToken {
		t.Helper()
		var row models.InvitationToken
		if err := f.db.Where("signup_id = ? AND seq = ?", id, seq).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		return row
	}
	setStatus := func(seq int, status string) {
		t.Helper()
		if err := f.db.Model(&models.InvitationToken{}).Where("signup_id = ? AND seq = ?", id, seq).Update("status", status).Error; err != nil {
			t.Fatal(err)
		}
	}

	send(1)
	first := link(1)
	setStatus(1, models.TokenExpired)
	send(1)
	renewed := link(1)
	if renewed.ID != first.ID || renewed.Status != models.TokenPending || renewed.TokenHash == first.TokenHash ||
		!renewed.ExpiresAt.After(first.ExpiresAt) || renewed.SentAt == nil {
		t.Errorf("resent link %+v, first %+v: want the same row pending with a new hash and expiry, sent", renewed, first)
	}

	setStatus(1, models.TokenUsed)
	send(1)
	if used := link(1); used.Status != models.TokenUsed || used.TokenHash != renewed.TokenHash || !used.ExpiresAt.Equal(renewed.ExpiresAt) {
		t.Errorf("used link after a resend %+v, want it used with hash and expiry unchanged (%+v)", used, renewed)
	}
	send(2)
	send(3)
	for seq, want := range map[int]string{1: models.TokenUsed, 2: models.TokenRevoked, 3: models.TokenPending} {
		if got := link(seq); got.Status != want || got.SentAt == nil {
			t.Errorf("link %d: %s, sent at %v; want %s, sent", seq, got.Status, got.SentAt, want)
		}
	}
}

func TestSendInvitationMailRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	if err := f.acts.ReserveName(ctx, activities.ReserveNameInput{SignupID: "m", Name: "mail-co"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acts.ProvisionOwner(ctx, provisionInput("m", "mail-co")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		code      int
		permanent bool
	}{{550, true}, {451, false}}
	for _, tt := range tests {
		f.smtp.Refuse(tt.code, "no")
		_, err := f.acts.SendInvitation(ctx, activities.SendInvitationInput{SignupID: "m", Seq: 1, Kind: "invite", ExpiresAt: time.Now().Add(time.Hour)})
		if (errType(err) == signup.CodeMailRejected) != tt.permanent || err == nil {
			t.Errorf("SMTP %d: %v, permanent %v", tt.code, err, tt.permanent)
		}
	}
	f.smtp.Accept()
	if _, err := f.acts.SendInvitation(ctx, activities.SendInvitationInput{SignupID: "m", Seq: 2, Kind: "resend", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The link of Seq 1 never went out and dies once Seq 2 is out.
	if got := f.count(t, &models.InvitationToken{}, "signup_id = ? AND status = 'pending'", "m"); got != 1 {
		t.Errorf("%d live links", got)
	}
}
