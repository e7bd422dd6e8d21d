package outbox

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/metrics"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

// signals records the signals sent through it; the rest of client.Client
// is not used by the relay (and panics if it is).
type signals struct {
	client.Client
	sent []string
	err  error
}

func (s *signals) SignalWorkflow(_ context.Context, workflowID, _, name string, arg any) error {
	if s.err != nil {
		return s.err
	}
	ps, _ := arg.(workflows.PasswordSet)
	s.sent = append(s.sent, workflowID+" "+name+" "+ps.UserID+" "+ps.Via)
	return nil
}

// DeliverHeld sends a row its writer holds without claiming it, and
// deletes it once sent: one statement. A failed send releases the row for
// the relay, one attempt more; a row a relay has claimed since (the
// writer's lease ran out) stays the relay's; a row held by no one is
// refused.
func TestDeliverHeld(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	temporal := &signals{}
	r := New(db, temporal, slog.New(slog.DiscardHandler))
	var n atomic.Int64
	if err := metrics.OnStatement(db.DB, "test", func(*gorm.DB) { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	owe := func(id string) models.SignalOutbox {
		t.Helper()
		claim := "writer-" + id
		row := models.SignalOutbox{ID: id, SignupID: "s-" + id, UserID: "u-" + id, Via: "invitation", CreatedAt: now,
			NextAttemptAt: now.Add(models.SignalLease), ClaimToken: &claim}
		if err := db.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
		return row
	}
	rows := func(id string) []models.SignalOutbox {
		t.Helper()
		var out []models.SignalOutbox
		if err := db.Where("id = ?", id).Find(&out).Error; err != nil {
			t.Fatal(err)
		}
		return out
	}

	a := owe("a")
	if k, err := r.RunOnce(ctx); err != nil || k != 0 {
		t.Fatalf("a relay sent %d rows (%v) of a writer's lease", k, err)
	}
	before := n.Load()
	if err := r.DeliverHeld(ctx, a); err != nil {
		t.Fatal(err)
	}
	ran := n.Load() - before
	want := signup.WorkflowID("s-a") + " " + workflows.SignalPasswordSet + " u-a invitation"
	if len(temporal.sent) != 1 || temporal.sent[0] != want || len(rows("a")) != 0 {
		t.Errorf("sent %q, row left %v; want %q once and the row gone", temporal.sent, rows("a"), want)
	}
	if ran != 1 {
		t.Errorf("%d statements, want 1 (the delete)", ran)
	}

	b := owe("b")
	temporal.err = errors.New("temporal down")
	if err := r.DeliverHeld(ctx, b); err == nil {
		t.Error("a failed signal reported delivered")
	}
	if left := rows("b"); len(left) != 1 || left[0].Attempts != 1 || left[0].ClaimToken != nil || left[0].LastError == nil {
		t.Errorf("row after a failed send %+v, want it released with one attempt and the error", left)
	}
	temporal.err = nil

	c := owe("c")
	relay := "relay"
	if err := db.Model(&models.SignalOutbox{}).Where("id = ?", "c").Update("claim_token", relay).Error; err != nil {
		t.Fatal(err)
	}
	if err := r.DeliverHeld(ctx, c); err != nil {
		t.Fatal(err)
	}
	if left := rows("c"); len(left) != 1 || left[0].ClaimToken == nil || *left[0].ClaimToken != relay {
		t.Errorf("row a relay claimed after the writer's lease: %+v, want it left to the relay", left)
	}

	c.ClaimToken = nil
	if err := r.DeliverHeld(ctx, c); err == nil {
		t.Error("a row held by no one was sent")
	}
}
