package account

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kcloud/onboarding/internal/password"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/models"
)

const (
	rightPassword = "Kakao!Cloud7"
	wrongPassword = "Wrong!Pass42"
)

// accounts seeds one organization with an owner in each state sign-in must
// not reveal: active, locked (reset_required after wrong passwords, with a
// password), expired (reset_required without one) and invited.
func accounts(t testing.TB) (*Service, *store.DB) {
	t.Helper()
	db := storetest.Open(t)
	hasher := password.NewHasher(password.DefaultParams)
	svc := New(db, hasher, time.Hour, nil)
	hash, err := hasher.Hash(rightPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	key := "acme-cloud"
	org := models.Organization{ID: uuid.NewString(), SignupID: uuid.NewString(), Name: key, NameKey: &key, Status: models.OrganizationActive, CreatedAt: now, UpdatedAt: now}
	if err := db.Create(&org).Error; err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		email, status string
		hash          *string
	}{
		{"active@example.com", models.UserActive, &hash},
		{"locked@example.com", models.UserResetRequired, &hash},
		{"expired@example.com", models.UserResetRequired, nil},
		{"invited@example.com", models.UserInvited, nil},
	} {
		row := models.User{ID: uuid.NewString(), OrganizationID: org.ID, Email: u.email, Name: "x", Phone: "+821012345678",
			IsOwner: true, Status: u.status, PasswordHash: u.hash, CreatedAt: now, UpdatedAt: now}
		if err := db.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
	}
	return svc, db
}

func TestSignInDoesNotRevealAccounts(t *testing.T) {
	svc, _ := accounts(t)
	ctx := context.Background()
	tests := []struct {
		name, org, email, password string
		want                       error
	}{
		{"unknown organization", "nobody-here", "active@example.com", wrongPassword, ErrInvalidCredentials},
		{"invalid organization name", "!!", "active@example.com", wrongPassword, ErrInvalidCredentials},
		{"unknown email", "acme-cloud", "nobody@example.com", wrongPassword, ErrInvalidCredentials},
		{"active, wrong password", "acme-cloud", "active@example.com", wrongPassword, ErrInvalidCredentials},
		{"locked, wrong password", "acme-cloud", "locked@example.com", wrongPassword, ErrInvalidCredentials},
		{"locked, right password", "acme-cloud", "locked@example.com", rightPassword, ErrPasswordResetRequired},
		{"expired invitation, no password", "acme-cloud", "expired@example.com", wrongPassword, ErrPasswordResetRequired},
		{"invited, no password", "acme-cloud", "invited@example.com", wrongPassword, ErrPasswordNotSet},
		{"active, right password", "acme-cloud", "active@example.com", rightPassword, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := svc.SignIn(ctx, tt.org, tt.email, tt.password)
			if !errors.Is(err, tt.want) || (tt.want == nil && c.SessionToken == "") {
				t.Fatalf("SignIn = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLockoutAfterFiveWrongPasswords(t *testing.T) {
	svc, db := accounts(t)
	ctx := context.Background()
	for i := 1; i <= MaxFailedAttempts; i++ {
		if _, err := svc.SignIn(ctx, "acme-cloud", "active@example.com", wrongPassword); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	var u models.User
	if err := db.Where("email = ?", "active@example.com").Take(&u).Error; err != nil {
		t.Fatal(err)
	}
	if u.Status != models.UserResetRequired {
		t.Fatalf("after %d wrong passwords the account is %s", MaxFailedAttempts, u.Status)
	}
	// Locked: a wrong password still says only invalid_credentials; the
	// right one learns the account must be reset.
	if _, err := svc.SignIn(ctx, "acme-cloud", "active@example.com", wrongPassword); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("locked, wrong password: %v", err)
	}
	if _, err := svc.SignIn(ctx, "acme-cloud", "active@example.com", rightPassword); !errors.Is(err, ErrPasswordResetRequired) {
		t.Fatalf("locked, right password: %v", err)
	}
}

// probes are the wrong-password sign-ins whose answers must not differ.
var probes = []struct{ name, org, email string }{
	{"unknown organization", "nobody-here", "active@example.com"},
	{"unknown email", "acme-cloud", "nobody@example.com"},
	{"active account", "acme-cloud", "active@example.com"},
	{"locked account", "acme-cloud", "locked@example.com"},
}

// signInOnce times one wrong-password sign-in; the active account's
// failure count is put back afterwards (untimed), so it never locks.
func signInOnce(tb testing.TB, svc *Service, db *store.DB, org, email string) time.Duration {
	start := time.Now()
	_, err := svc.SignIn(context.Background(), org, email, wrongPassword)
	d := time.Since(start)
	if !errors.Is(err, ErrInvalidCredentials) {
		tb.Fatalf("%s/%s: %v", org, email, err)
	}
	if err := db.Model(&models.User{}).Where("email = ?", "active@example.com").Update("failed_attempts", 0).Error; err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestWrongPasswordTimingIsAlike compares the median time of a wrong
// password for an unknown organization, an unknown email, an active and a
// locked account with that of one bare password hash verification, all
// interleaved so that load elsewhere hits each alike. Every kind must cost
// at least half a verification (skipping the hash makes a kind about a
// hundred times faster) and the kinds must stay within a factor of three of
// each other: loose bounds, for a busy machine, that still fail on a path
// that answers without the hash. The figures are BenchmarkWrongPassword's.
func TestWrongPasswordTimingIsAlike(t *testing.T) {
	svc, db := accounts(t)
	hasher := password.NewHasher(password.DefaultParams)
	hash, err := hasher.Hash(rightPassword)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 21
	times := make([][]time.Duration, len(probes)+1)
	for r := 0; r < rounds; r++ {
		for i, p := range probes {
			times[i] = append(times[i], signInOnce(t, svc, db, p.org, p.email))
		}
		start := time.Now()
		_, _ = hasher.Verify(hash, wrongPassword)
		times[len(probes)] = append(times[len(probes)], time.Since(start))
	}
	median := func(i int) time.Duration {
		slices.Sort(times[i])
		return times[i][rounds/2]
	}
	verify := median(len(probes))
	t.Logf("%-22s median %v", "one hash verification", verify.Round(10*time.Microsecond))
	medians := make([]time.Duration, len(probes))
	for i, p := range probes {
		medians[i] = median(i)
		t.Logf("%-22s median %v", p.name, medians[i].Round(10*time.Microsecond))
		if medians[i] < verify/2 {
			t.Errorf("%s: median %v, under half a hash verification (%v): it answers without one", p.name, medians[i], verify)
		}
	}
	if lo, hi := slices.Min(medians), slices.Max(medians); hi > 3*lo {
		t.Errorf("medians from %v to %v: wrong passwords are told apart by their time", lo, hi)
	}
}

// BenchmarkWrongPassword measures a wrong-password sign-in of each kind
// (RELIABILITY.md, "Abuse"): go test ./internal/account -run '^$' -bench WrongPassword
func BenchmarkWrongPassword(b *testing.B) {
	svc, db := accounts(b)
	for _, p := range probes {
		b.Run(p.name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				times = append(times, signInOnce(b, svc, db, p.org, p.email))
			}
			// The median: a busy machine's stalls move the mean.
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
		})
	}
}
