package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kcloud/onboarding/models"
)

// readyForOrganization takes a sign-up through step 2.
func (s *stack) readyForOrganization(t *testing.T) *journey {
	t.Helper()
	j := s.start(t)
	expect(t, "cert", s.upload(j.id, j.token, "c.pdf", pdf), 201, "")
	expect(t, "verify", s.call(http.MethodPost, j.path("/business-number/verify"), j.token, `{"business_number":"2208162517"}`), 200, "")
	expect(t, "user info", s.call(http.MethodPut, j.path("/user-info"), j.token, userInfo()), 200, "")
	return j
}

func orgBody(name string, n int) map[string]string {
	return map[string]string{"organization_name": name, "contact_name": "Racer", "contact_email": fmt.Sprintf("racer%d@example.com", n), "mobile_phone": "010-1234-5678"}
}

// Fifty sign-ups reach for one name at once: exactly one gets it.
func TestFiftySignupsRaceForOneName(t *testing.T) {
	s := newStack(t)
	const n = 50
	js := make([]*journey, n)
	var wg sync.WaitGroup
	for i := range js {
		wg.Add(1)
		go func() { defer wg.Done(); js[i] = s.readyForOrganization(t) }()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	results := make([]response, n)
	start := make(chan struct{})
	for i, j := range js {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = s.call(http.MethodPut, j.path("/organization"), j.token, orgBody("hot-name", i))
		}()
	}
	close(start)
	wg.Wait()
	won, lost := 0, 0
	for _, r := range results {
		switch {
		case r.status == 200:
			won++
		case r.status == 409 && r.code() == "organization_name_taken":
			lost++
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
		}
	}
	if won != 1 || lost != n-1 {
		t.Fatalf("%d won and %d lost, want 1 and %d", won, lost, n-1)
	}
	var held int64
	s.db.Model(&models.NameReservation{}).Where("name_key = ?", "hot-name").Count(&held)
	if held != 1 {
		t.Errorf("%d reservations of the name", held)
	}

	// The winner cancels: the name is free at once, and another takes it.
	var winner int
	for i, r := range results {
		if r.status == 200 {
			winner = i
		}
	}
	expect(t, "cancel", s.call(http.MethodPost, "/api/v1/admin/signups/"+js[winner].id+"/cancel", s.admin, `{"operator":"race"}`), 200, "")
	other := (winner + 1) % n
	expect(t, "take the freed name", s.call(http.MethodPut, js[other].path("/organization"), js[other].token, orgBody("hot-name", other)), 200, "")
}

// Double clicks: one sign-up's steps sent many times at once never leave
// it inconsistent.
func TestDoubleClicksKeepOneState(t *testing.T) {
	s := newStack(t)
	j := s.readyForOrganization(t)
	var wg sync.WaitGroup
	orgs := make([]response, 8)
	for i := range orgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			orgs[i] = s.call(http.MethodPut, j.path("/organization"), j.token, orgBody(fmt.Sprintf("click-%d", i%3), 0))
		}()
	}
	wg.Wait()
	for _, r := range orgs {
		if r.status != 200 {
			t.Errorf("organization: %d %s", r.status, r.raw)
		}
	}
	view := s.call(http.MethodGet, j.path(""), j.token, nil)
	name := view.str("organization", "organization_name")
	var held []models.NameReservation
	s.db.Where("signup_id = ?", j.id).Find(&held)
	if len(held) != 1 || held[0].NameKey != name {
		t.Fatalf("reservations %+v for a view naming %q", held, name)
	}

	submits := make([]response, 6)
	for i := range submits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			submits[i] = s.call(http.MethodPost, j.path("/submit"), j.token, nil)
		}()
	}
	wg.Wait()
	accepted := 0
	for _, r := range submits {
		switch {
		case r.status == 202:
			accepted++
		case r.status == 409 && r.code() == "step_out_of_order":
		default:
			t.Errorf("submit: %d %s", r.status, r.raw)
		}
	}
	if accepted != 1 {
		t.Errorf("%d submits accepted, want 1", accepted)
	}
	j.waitStatus(t, "invited", 10*time.Second)
	var orgsN, owners int64
	s.db.Model(&models.Organization{}).Where("signup_id = ?", j.id).Count(&orgsN)
	s.db.Model(&models.User{}).Where("email = ?", "racer0@example.com").Count(&owners)
	if orgsN != 1 || owners != 1 {
		t.Errorf("%d organizations and %d owners after double submits", orgsN, owners)
	}
	// The same Idempotency-Key twice is one request.
	k := s.readyForOrganization(t)
	body := orgBody("idem-name", 9)
	first := s.callWithKey(http.MethodPut, k.path("/organization"), k.token, body, "key-1")
	second := s.callWithKey(http.MethodPut, k.path("/organization"), k.token, body, "key-1")
	if first.status != 200 || second.status != 200 || first.str("updated_at") != second.str("updated_at") {
		t.Errorf("a repeated Idempotency-Key ran twice: %s / %s", first.raw, second.raw)
	}
}

// An upload sent again with the same Idempotency-Key gets the first
// answer; the second file, never attached, is not kept.
func TestUploadRetriedWithItsKey(t *testing.T) {
	s := newStack(t)
	j := s.start(t)
	first := s.uploadWithKey(j.id, j.token, "first.pdf", pdf, "upload-once")
	expect(t, "upload", first, http.StatusCreated, "")
	again := s.uploadWithKey(j.id, j.token, "again.pdf", append([]byte("%PDF-1.4\n% another\n"), pdf...), "upload-once")
	expect(t, "upload again, same key", again, http.StatusCreated, "")
	if a, b := first.str("certificate", "id"), again.str("certificate", "id"); a == "" || a != b {
		t.Errorf("answers name certificates %q and %q, want the first twice", a, b)
	}
	var n int64
	s.db.Model(&models.Certificate{}).Where("signup_id = ? AND state = 'stored'", j.id).Count(&n)
	if n != 1 {
		t.Errorf("%d stored certificates, want 1 (the retried upload's file not kept)", n)
	}
}
