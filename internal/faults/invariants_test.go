package faults

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kcloud/onboarding/internal/bench"
)

// report is what the invariant check found.
type report struct {
	SignUps        int
	ByStatus       map[string]int
	DuplicateMails int // invitation mails sent more than once for one link (same Message-ID)
}

// check verifies, in the database and through the mailbox, that each
// finished sign-up has exactly one organization, one owner, its two role
// assignments, one reservation and (when invited) exactly one live link;
// that no reservation is orphaned; and that every outcome ended as wanted.
func (r *run) check(outs []bench.Outcome, want string) report {
	t := r.t
	t.Helper()
	rep := report{ByStatus: map[string]int{}}
	for _, o := range outs {
		if !o.OK {
			t.Errorf("sign-up %s (%s) did not finish: stopped at %s", o.SignupID, o.Org, o.Step)
		}
	}
	// The service may still be catching up (a signal waiting for a worker
	// to take its task again): give it a while to settle.
	var settle []string
	for _, o := range outs {
		if o.OK && o.SignupID != "" {
			settle = append(settle, o.SignupID)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	r.waitAll(ctx, settle, want)
	if d := time.Since(t0); d > time.Second {
		t.Logf("the sign-ups settled %s after the run", d.Round(time.Millisecond))
	}
	type row struct {
		ID     string
		Status string
	}
	var rows []row
	if err := r.db.Raw("SELECT id, status FROM signups").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	rep.SignUps = len(rows)
	for _, x := range rows {
		rep.ByStatus[x.Status]++
	}
	ids := map[string]bool{}
	for _, o := range outs {
		if o.SignupID != "" {
			ids[o.SignupID] = true
		}
	}
	status := map[string]string{}
	for _, x := range rows {
		status[x.ID] = x.Status
	}
	for id := range ids {
		if status[id] != want {
			t.Errorf("sign-up %s is %q, want %q", id, status[id], want)
		}
	}
	count := func(q string, args ...any) int64 {
		var n int64
		if err := r.db.Raw(q, args...).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, q := range []struct {
		what string
		sql  string
	}{
		{"sign-ups with more than one organization", "SELECT COUNT(*) FROM (SELECT signup_id FROM organizations GROUP BY signup_id HAVING COUNT(*) > 1) x"},
		{"organizations with other than one owner", "SELECT COUNT(*) FROM organizations o WHERE (SELECT COUNT(*) FROM users u WHERE u.organization_id = o.id AND u.is_owner) <> 1"},
		{"owners without exactly their two roles", "SELECT COUNT(*) FROM users u WHERE u.is_owner AND (SELECT COUNT(*) FROM role_assignments r WHERE r.user_id = u.id AND r.role_id IN ('organization_admin','billing_admin')) <> 2"},
		{"duplicate role assignments", "SELECT COUNT(*) FROM (SELECT user_id, role_id FROM role_assignments GROUP BY user_id, role_id HAVING COUNT(*) > 1) x"},
		{"organizations without their reservation", "SELECT COUNT(*) FROM organizations o WHERE o.status = 'active' AND (SELECT COUNT(*) FROM name_reservations n WHERE n.signup_id = o.signup_id AND n.organization_id = o.id) <> 1"},
		{"orphan reservations (no live sign-up)", "SELECT COUNT(*) FROM name_reservations n WHERE NOT EXISTS (SELECT 1 FROM signups s WHERE s.id = n.signup_id AND s.status NOT IN ('abandoned','cancelled'))"},
		{"business profiles per sign-up over one", "SELECT COUNT(*) FROM (SELECT signup_id FROM business_profiles GROUP BY signup_id HAVING COUNT(*) > 1) x"},
		{"invited sign-ups without exactly one live link", "SELECT COUNT(*) FROM signups s WHERE s.status = 'invited' AND (SELECT COUNT(*) FROM invitation_tokens i WHERE i.signup_id = s.id AND i.status = 'pending') <> 1"},
		{"active sign-ups whose owner is not active", "SELECT COUNT(*) FROM signups s JOIN organizations o ON o.signup_id = s.id JOIN users u ON u.organization_id = o.id AND u.is_owner WHERE s.status = 'active' AND u.status <> 'active'"},
	} {
		if n := count(q.sql); n != 0 {
			t.Errorf("%s: %d", q.what, n)
		}
	}
	// Invitation mails: a mail repeated by a retried activity keeps its
	// Message-ID (one per link); count the repeats.
	res, err := http.Get(r.topo.MailboxURL + "/dev/mailbox")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var box struct {
		Messages []struct {
			MessageID string `json:"message_id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(raw, &box); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range box.Messages {
		if strings.HasPrefix(m.MessageID, "invite-") {
			seen[m.MessageID]++
		}
	}
	for _, n := range seen {
		rep.DuplicateMails += n - 1
	}
	t.Logf("invariants: %d sign-ups %v; %d duplicate invitation mails", rep.SignUps, rep.ByStatus, rep.DuplicateMails)
	return rep
}
