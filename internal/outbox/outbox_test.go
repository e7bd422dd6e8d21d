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

// DeliverID claims the row as it reads it and deletes it once sent: two
// statements. A row that is gone sends nothing; a failed send releases the
// row for the relay, one attempt more.
func TestDeliverID(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	temporal := &signals{}
	r := New(db, temporal, slog.New(slog.DiscardHandler))
	var n atomic.Int64
	if err := metrics.OnStatement(db.DB, "test", func(*gorm.DB) { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	owe := func(id string) {
		t.Helper()
		row := models.SignalOutbox{ID: id, SignupID: "s-" + id, UserID: "u-" + id, Via: "invitation", CreatedAt: now, NextAttemptAt: now.Add(5 * time.Second)}
		if err := db.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
	}
	rows := func(id string) []models.SignalOutbox {
		t.Helper()
		var out []models.SignalOutbox
		if err := db.Where("id = ?", id).Find(&out).Error; err != nil {
			t.Fatal(err)
		}
		return out
	}

	owe("a")
	before := n.Load()
	if err := r.DeliverID(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	ran := n.Load() - before
	t.Logf("DeliverID: %d statements", ran)
	want := signup.WorkflowID("s-a") + " " + workflows.SignalPasswordSet + " u-a invitation"
	if len(temporal.sent) != 1 || temporal.sent[0] != want || len(rows("a")) != 0 {
		t.Errorf("sent %q, row left %v; want %q once and the row gone", temporal.sent, rows("a"), want)
	}
	if ran != 2 {
		t.Errorf("%d statements, want 2 (claim and read, delete)", ran)
	}

	if err := r.DeliverID(ctx, "a"); !errors.Is(err, gorm.ErrRecordNotFound) || len(temporal.sent) != 1 {
		t.Errorf("delivered again: %v, %d sent; want gorm.ErrRecordNotFound and nothing sent", err, len(temporal.sent))
	}

	owe("b")
	temporal.err = errors.New("temporal down")
	if err := r.DeliverID(ctx, "b"); err == nil {
		t.Error("a failed signal reported delivered")
	}
	if left := rows("b"); len(left) != 1 || left[0].Attempts != 1 || left[0].ClaimToken != nil || left[0].LastError == nil {
		t.Errorf("row after a failed send %+v, want it released with one attempt and the error", left)
	}
}
