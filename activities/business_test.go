package activities_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/nts"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// The tax service of these tests knows every number but 120-81-47521.
func bounded(t *testing.T, maxOpen int) (fixture, *activities.Activities) {
	t.Helper()
	return boundedCached(t, maxOpen, 0)
}

// boundedCached is bounded with the tax service's answers cached for ttl.
func boundedCached(t *testing.T, maxOpen int, ttl time.Duration) (fixture, *activities.Activities) {
	t.Helper()
	srv := httptest.NewServer(&fakeNTS{handler: func(w http.ResponseWriter, numbers []string) {
		code := "01"
		if len(numbers) == 1 && numbers[0] == "1208147521" {
			code = ""
		}
		statusBody(code)(w, numbers)
	}})
	t.Cleanup(srv.Close)
	f := newFixture(t, nil)
	acts := activities.New(activities.Deps{DB: f.db, NTS: nts.NewClient(srv.URL, "key+/=", time.Second, srv.Client()),
		NTSCacheTTL: ttl, Log: slog.New(slog.DiscardHandler), MaxOpenPerBusiness: maxOpen})
	return f, acts
}

func TestOpenSignupsPerBusinessNumber(t *testing.T) {
	ctx := context.Background()
	f, acts := bounded(t, 3)
	verify := func(id, number string) error {
		_, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: number, SignupID: id})
		return err
	}
	slots := func(number string) int64 {
		return f.count(t, &models.BusinessNumberSlot{}, "business_number = ?", number)
	}
	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()}
	for _, id := range ids[:3] {
		if err := verify(id, "2208162517"); err != nil {
			t.Fatal(err)
		}
	}
	// Run twice (a retried activity): still one slot each.
	if err := verify(ids[0], "220-81-62517"); err != nil || slots("220-81-62517") != 3 {
		t.Fatalf("verified again: %v, %d slots", err, slots("220-81-62517"))
	}
	if err := verify(ids[3], "2208162517"); errType(err) != signup.CodeTooManyOpenSignups {
		t.Fatalf("a fourth open sign-up: %v, want %s", err, signup.CodeTooManyOpenSignups)
	}
	// Another number: the sign-up's old slot goes back once it is verified.
	if err := verify(ids[0], "1248100998"); err != nil {
		t.Fatal(err)
	}
	if slots("220-81-62517") != 2 || slots("124-81-00998") != 1 {
		t.Fatalf("after moving to another number: %d and %d slots", slots("220-81-62517"), slots("124-81-00998"))
	}
	// A number the tax service does not know takes no slot, and keeps the
	// one the sign-up holds.
	if err := verify(ids[1], "1208147521"); errType(err) != signup.CodeBusinessNotRegistered {
		t.Fatalf("unregistered: %v", err)
	}
	if slots("120-81-47521") != 0 || slots("220-81-62517") != 2 {
		t.Fatalf("after an unregistered number: %d and %d slots", slots("120-81-47521"), slots("220-81-62517"))
	}
	// Submitting (a save from an editable status to provisioning) frees
	// the slot: the fourth sign-up gets one.
	if err := verify(ids[0], "2208162517"); err != nil {
		t.Fatal(err)
	}
	if err := verify(ids[3], "2208162517"); errType(err) != signup.CodeTooManyOpenSignups {
		t.Fatalf("a fourth open sign-up: %v", err)
	}
	now := time.Now().UTC()
	save := activities.SaveSignupInput{View: signup.View{SignupID: ids[2], Status: signup.StatusProvisioning, CreatedAt: now, UpdatedAt: now},
		Version: 5, Audit: &signup.AuditEntry{Actor: signup.Actor{Kind: signup.ActorUser}, Action: "submitted", From: signup.StatusReady, To: signup.StatusProvisioning}}
	if err := acts.SaveSignup(ctx, save); err != nil {
		t.Fatal(err)
	}
	if err := verify(ids[3], "2208162517"); err != nil {
		t.Fatalf("after a submit: %v", err)
	}
	// Releasing (abandoned, cancelled) frees it too.
	if err := acts.ReleaseSignup(ctx, activities.ReleaseInput{SignupID: ids[3], Reason: "abandoned"}); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, &models.BusinessNumberSlot{}, "signup_id = ?", ids[3]); n != 0 {
		t.Fatalf("%d slots left after release", n)
	}
}

// Twenty sign-ups verify one number at once: exactly three get a slot.
func TestOpenSignupsBoundUnderRace(t *testing.T) {
	ctx := context.Background()
	f, acts := bounded(t, 3)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok, too int
	)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "2208162517", SignupID: uuid.NewString()})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errType(err) == signup.CodeTooManyOpenSignups:
				too++
			default:
				t.Errorf("verify: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 3 || too != 17 || f.count(t, &models.BusinessNumberSlot{}, "business_number = ?", "220-81-62517") != 3 {
		t.Fatalf("%d verified, %d refused", ok, too)
	}
}

// The statements of VerifyBusinessNumber with a bound and the tax service:
// the slot's insert, the cache's read and write, and the give-back of the
// sign-up's other numbers' slots; run again, the insert conflicts and the
// held slot is found, and the cached answer is used.
func TestVerifyStatements(t *testing.T) {
	ctx := context.Background()
	f, acts := boundedCached(t, 3, time.Hour)
	n := statements(t, f.db.DB)
	id := uuid.NewString()
	for _, c := range []struct {
		name string
		max  int64
	}{{"first claim, answer not cached", 4}, {"slot held, answer cached", 4}} {
		before := n.Load()
		if _, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "2208162517", SignupID: id}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := n.Load() - before
		t.Logf("VerifyBusinessNumber, %s: %d statements", c.name, got)
		if got > c.max {
			t.Errorf("%s: %d statements, want ≤ %d", c.name, got, c.max)
		}
	}
	if got := f.count(t, &models.BusinessNumberSlot{}, "signup_id = ?", id); got != 1 {
		t.Errorf("%d slots held, want 1", got)
	}
}

// A verification whose save fails is no verification: the slot it took
// goes back, and the slot of the number verified before stays.
func TestVerifySaveFailedGivesTheNewSlotBack(t *testing.T) {
	ctx := context.Background()
	f, acts := bounded(t, 3)
	id := uuid.NewString()
	if _, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "2208162517", SignupID: id}); err != nil {
		t.Fatal(err)
	}
	// The read model cannot be written: every save fails.
	if err := f.db.Exec("DROP TABLE signups").Error; err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	save := &activities.SaveSignupInput{View: signup.View{SignupID: id, Status: signup.StatusUserInfo, CreatedAt: now, UpdatedAt: now}, Version: 2}
	if _, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{BusinessNumber: "1248100998", SignupID: id, Save: save}); err == nil {
		t.Fatal("verified with a save that cannot be written")
	}
	for number, want := range map[string]int64{"220-81-62517": 1, "124-81-00998": 0} {
		if n := f.count(t, &models.BusinessNumberSlot{}, "signup_id = ? AND business_number = ?", id, number); n != want {
			t.Errorf("slots of %s: %d, want %d", number, n, want)
		}
	}
}

// A Verify with its save: the slot's claim, the tax service's cache read
// (this fixture has a tax service), then the save with the other numbers'
// slots given back (one statement on PostgreSQL).
func TestVerifyWithSaveStatements(t *testing.T) {
	ctx := context.Background()
	f, acts := bounded(t, 3)
	n := statements(t, f.db.DB)
	now := time.Now().UTC()
	verify := func(version int64, number string) (int64, error) {
		before := n.Load()
		_, err := acts.VerifyBusinessNumber(ctx, activities.VerifyInput{SignupID: "vs", BusinessNumber: number,
			Save: &activities.SaveSignupInput{View: signup.View{SignupID: "vs", Status: signup.StatusUserInfo, CreatedAt: now, UpdatedAt: now},
				Version: version, TokenHash: "h"}})
		return n.Load() - before, err
	}
	want := int64(4)
	if f.db.Name() == "postgres" {
		want = 3
	}
	for i, number := range []string{"2208162517", "1248100998"} {
		got, err := verify(int64(i+1), number)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("verify %s: %d statements", number, got)
		if got != want {
			t.Errorf("verify %s: %d statements, want %d", number, got, want)
		}
	}
	if got := f.count(t, &models.BusinessNumberSlot{}, "signup_id = ?", "vs"); got != 1 {
		t.Errorf("%d slots held after verifying a second number, want 1", got)
	}
}
