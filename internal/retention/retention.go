// Package retention erases the personal data of ended sign-ups: PII_RETENTION
// after a sign-up ends abandoned or cancelled (the purge workflow, started by
// a Temporal Schedule), or at once when a person asks (the admin API's
// erase, `onboarding ops erase`).
//
// Erasing keeps the read model's id, status, accepted terms and times and
// drops everything else from it (names, emails, phones, addresses, the
// business number, the last error); clears the details of the sign-up's
// audit events (they may quote personal data) and records the erasure in
// their place, with who asked; deletes the sign-up's certificates (rows and
// sealed objects) and, when an organization was provisioned and then
// disabled, its users' names, emails, phones and passwords. The business
// profile of a provisioned organization, and the certificate it cites, are
// the organization's records and stay. Finally the sign-up's closed
// workflow is deleted from Temporal: its history (encrypted) and its
// visibility record, whose search attributes hold the organization name and
// the business number in clear.
package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/models"
)

// Errors of Erase.
var (
	ErrNotFound = errors.New("no such sign-up")
	ErrNotEnded = errors.New("the sign-up has not ended (abandoned or cancelled)")
)

// Triggers of an erasure, the label of the erased-sign-ups metric.
const (
	TriggerRetention = "retention" // PII_RETENTION passed
	TriggerRequest   = "request"   // an operator, for a person's request
)

// Eraser erases ended sign-ups' personal data.
type Eraser struct {
	db    *store.DB
	certs *certstore.Store
	count func(trigger string)
	log   *slog.Logger
	now   func() time.Time
}

// New returns an Eraser. count is called once per sign-up erased.
func New(db *store.DB, certs *certstore.Store, count func(trigger string), log *slog.Logger) *Eraser {
	if count == nil {
		count = func(string) {}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Eraser{db: db, certs: certs, count: count, log: log, now: time.Now}
}

// Ended reports whether a sign-up's personal data may be erased.
func Ended(st signup.Status) bool {
	return st == signup.StatusAbandoned || st == signup.StatusCancelled
}

// Erase erases one ended sign-up, as actor asked (detail: why, for the
// audit trail). It returns the erased row and whether this call erased it;
// a sign-up erased before is left as it is (and its leftovers removed), so
// Erase may run any number of times.
func (e *Eraser) Erase(ctx context.Context, id string, actor signup.Actor, detail, trigger string) (models.Signup, bool, error) {
	var (
		row    models.Signup
		erased bool
	)
	err := e.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx
		if e.db.Dialect == store.Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Where("id = ?", id).Take(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return fmt.Errorf("erase: %w", err)
		}
		if !Ended(signup.Status(row.Status)) {
			return ErrNotEnded
		}
		if row.ErasedAt != nil {
			return nil
		}
		now := e.now().UTC()
		view, err := scrubbedView(row)
		if err != nil {
			return err
		}
		// UpdateColumns: updated_at stays the time the sign-up ended.
		if err := tx.Model(&models.Signup{}).Where("id = ?", id).UpdateColumns(map[string]any{
			"organization_name": nil, "business_number": nil, "contact_email": nil, "last_error": nil,
			"view": view, "erased_at": now,
		}).Error; err != nil {
			return fmt.Errorf("erase: read model: %w", err)
		}
		row.OrganizationName, row.BusinessNumber, row.ContactEmail, row.LastError = nil, nil, nil, nil
		row.View, row.ErasedAt = view, &now
		if err := eraseTraces(tx, id); err != nil {
			return err
		}
		// Every certificate but the one a kept business profile cites.
		_, err = certstore.Retire(tx, "signup_id = ? AND id NOT IN (?)", id,
			tx.Model(&models.BusinessProfile{}).Select("certificate_id").Where("signup_id = ? AND certificate_id IS NOT NULL", id))
		if err != nil {
			return fmt.Errorf("erase: %w", err)
		}
		if err := eraseUsers(tx, id, now); err != nil {
			return err
		}
		st := row.Status
		audit := models.AuditEvent{ID: newID(), SignupID: &id, Actor: string(actor.Kind), Action: string(signup.ActionPersonalDataErased),
			FromStatus: &st, ToStatus: &st, Detail: auditDetail(actor, detail), DedupeKey: ptr(id + ":erased"), CreatedAt: now}
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "dedupe_key"}}, DoNothing: true}).
			Create(&audit).Error; err != nil {
			return fmt.Errorf("erase: audit: %w", err)
		}
		erased = true
		return nil
	})
	if err != nil {
		return row, false, err
	}
	if erased {
		e.count(trigger)
	}
	// The certificates go after the commit: every one of the sign-up's
	// retired, by this erase or by an earlier, interrupted erase (or
	// release). What cannot be deleted now stays retired for the sweep.
	if err := e.certs.RemoveRetired(ctx, id); err != nil {
		e.log.WarnContext(ctx, "erase: certificates retired but not deleted yet; the sweep will", "signup_id", id, "error", err)
	}
	return row, erased, nil
}

// eraseTraces clears what else quotes the sign-up's personal data: its
// audit details, its name reservation and its business number's slots.
func eraseTraces(tx *gorm.DB, id string) error {
	if err := tx.Model(&models.AuditEvent{}).Where("signup_id = ? AND detail IS NOT NULL", id).
		Update("detail", nil).Error; err != nil {
		return fmt.Errorf("erase: audit details: %w", err)
	}
	if err := tx.Where("signup_id = ?", id).Delete(&models.NameReservation{}).Error; err != nil {
		return fmt.Errorf("erase: reservation: %w", err)
	}
	if err := tx.Where("signup_id = ?", id).Delete(&models.BusinessNumberSlot{}).Error; err != nil {
		return fmt.Errorf("erase: business number slot: %w", err)
	}
	return nil
}

// scrubbedView is the view an erased sign-up keeps: id, status, the
// accepted terms and the times.
func scrubbedView(row models.Signup) (string, error) {
	var old signup.View
	_ = json.Unmarshal([]byte(row.View), &old) // a broken view keeps nothing of it
	v := signup.View{SignupID: row.ID, Status: signup.Status(row.Status), AcceptedTerms: old.AcceptedTerms,
		CreatedAt: old.CreatedAt, UpdatedAt: old.UpdatedAt}
	if v.AcceptedTerms == nil {
		v.AcceptedTerms = []string{}
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt, v.UpdatedAt = row.CreatedAt.UTC(), row.UpdatedAt.UTC()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("erase: view: %w", err)
	}
	return string(b), nil
}

// eraseUsers drops the personal data of the users of a sign-up's
// organization, which only an ended sign-up's disabled organization has:
// they can never sign in again. The login id becomes a placeholder unique in
// the organization.
func eraseUsers(tx *gorm.DB, signupID string, now time.Time) error {
	var userIDs []string
	if err := tx.Model(&models.User{}).Where("organization_id IN (?)",
		tx.Model(&models.Organization{}).Select("id").Where("signup_id = ? AND status = ?", signupID, models.OrganizationDisabled)).
		Pluck("id", &userIDs).Error; err != nil {
		return fmt.Errorf("erase: users: %w", err)
	}
	for _, uid := range userIDs {
		if err := tx.Model(&models.User{}).Where("id = ?", uid).Updates(map[string]any{
			"email": "erased-" + uid, "name": "", "phone": "", "password_hash": nil, "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("erase: user: %w", err)
		}
	}
	if len(userIDs) > 0 {
		if err := tx.Where("user_id IN ?", userIDs).Delete(&models.PasswordHistory{}).Error; err != nil {
			return fmt.Errorf("erase: password history: %w", err)
		}
	}
	return nil
}

func auditDetail(actor signup.Actor, detail string) *string {
	s := actor.Name
	switch {
	case s != "" && detail != "":
		s += ": " + detail
	case s == "":
		s = detail
	}
	if s == "" {
		return nil
	}
	return &s
}

// Due lists sign-ups that ended (abandoned or cancelled) before cutoff and
// still hold personal data, oldest first.
func (e *Eraser) Due(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	var ids []string
	// The statuses are literals, as in the partial index signups_purge_idx,
	// so that the planner can use it (a bound parameter would hide them).
	err := e.db.WithContext(ctx).Model(&models.Signup{}).
		Where("erased_at IS NULL AND status IN ('abandoned', 'cancelled') AND updated_at < ?", cutoff.UTC()).
		Order("updated_at").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("retention: due: %w", err)
	}
	return ids, nil
}

// ErrStillRunning reports a workflow that has not closed yet: the sign-up's
// status is written just before its workflow completes.
var ErrStillRunning = errors.New("retention: workflow still running")

// ForgetWorkflow deletes a sign-up's closed workflow from Temporal: its
// history and its visibility record with the search attributes. One already
// gone is not an error; a running one (the sign-up has not quite finished)
// is left alone with ErrStillRunning.
func ForgetWorkflow(ctx context.Context, c client.Client, namespace, signupID string) error {
	wid := signup.WorkflowID(signupID)
	desc, err := c.DescribeWorkflowExecution(ctx, wid, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("retention: describe %s: %w", wid, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return ErrStillRunning
	}
	_, err = c.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace:         namespace,
		WorkflowExecution: info.GetExecution(),
	})
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("retention: delete %s: %w", wid, err)
	}
	return nil
}

func newID() string { return uuid.NewString() }

func ptr[T any](v T) *T { return &v }
