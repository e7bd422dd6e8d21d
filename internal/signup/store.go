package signup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kcloud/onboarding/models"
)

// ErrNotFound: no sign-up has the id.
var ErrNotFound = errors.New("sign-up not found")

// Store owns the signups table: the read model each sign-up's workflow
// keeps, so reads need no workflow task. The API creates a sign-up's first
// row, the workflow saves every later one (through the SaveSignup
// activity), and the API, the admin API and the metrics read them.
type Store struct {
	db *gorm.DB
}

// NewStore returns the store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Create writes a new sign-up's first row as its first save (version 1,
// which a workflow given Input.TermsRecorded does not write again): the
// token's hash (so the next call can authenticate), the view, and step 1's
// audit event, terms accepted by the user. On PostgreSQL that is one
// statement (Save). The workflow's own saves supersede it.
func (s *Store) Create(ctx context.Context, v View, tokenHash string) error {
	_, err := s.Save(ctx, func(*gorm.DB) (Saved, error) {
		return Saved{View: v, TokenHash: tokenHash, Version: FirstSave,
			Audit: &AuditEntry{Actor: Actor{Kind: ActorUser}, Action: ActionTermsAccepted, To: v.Status}}, nil
	})
	if err != nil {
		return fmt.Errorf("create sign-up: %w", err)
	}
	return nil
}

// FirstSave is the version of the row Create writes.
const FirstSave = 1

// DeleteUnstarted deletes a sign-up's first row and its audit events when
// its workflow did not start (the caller knows: Temporal has no such
// workflow). Rows a workflow has saved past FirstSave stay.
func (s *Store) DeleteUnstarted(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND version <= ?", id, FirstSave).Delete(&models.Signup{})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return tx.Where("signup_id = ?", id).Delete(&models.AuditEvent{}).Error
	})
}

// Get returns the sign-up's row, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (models.Signup, error) {
	var row models.Signup
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return row, ErrNotFound
	}
	if err != nil {
		return row, fmt.Errorf("sign-up %s: %w", id, err)
	}
	return row, nil
}

// List returns up to limit sign-ups, newest first, of one status ("": any).
func (s *Store) List(ctx context.Context, status Status, limit int) ([]models.Signup, error) {
	q := s.db.WithContext(ctx).Model(&models.Signup{}).Order("created_at DESC").Order("id")
	if status != "" {
		q = q.Where("status = ?", string(status))
	}
	var rows []models.Signup
	if err := q.Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list sign-ups: %w", err)
	}
	return rows, nil
}

// StatusCount is how many sign-ups have a status.
type StatusCount struct {
	Status Status
	N      int64
}

// CountByStatus counts the sign-ups of each status present.
func (s *Store) CountByStatus(ctx context.Context) ([]StatusCount, error) {
	var rows []StatusCount
	err := s.db.WithContext(ctx).Model(&models.Signup{}).Select("status, COUNT(*) AS n").Group("status").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count sign-ups: %w", err)
	}
	return rows, nil
}

// AuditEntry is a status change to record beside the new view.
type AuditEntry struct {
	Actor  Actor
	Action Action
	From   Status
	To     Status
	Detail string
}

// Saved is a sign-up's view as its workflow saves it, numbered by Version.
type Saved struct {
	View      View
	TokenHash string
	Version   int64
	LastError string
	Audit     *AuditEntry
	// Also, if set, runs with the save, whether or not the save is newer.
	Also *Also
}

// Also is a statement of another table's owner that goes with a save: on
// PostgreSQL inside the save's statement (in a WITH, which runs whether or
// not it is read), elsewhere just before it in its transaction. It must
// return no rows.
type Also struct {
	SQL  string
	Args []any
}

// Exec runs the statement on its own.
func (a *Also) Exec(tx *gorm.DB) error {
	return tx.Exec(a.SQL, a.Args...).Error
}

// upsertSignup writes a saved view unless the stored one is as new or
// newer, or erased.
const upsertSignup = `INSERT INTO signups (id, token_hash, status, workflow_id, organization_name, business_number,
		contact_email, view, last_error, version, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET status = excluded.status, organization_name = excluded.organization_name,
		business_number = excluded.business_number, contact_email = excluded.contact_email,
		view = excluded.view, last_error = excluded.last_error, version = excluded.version,
		updated_at = excluded.updated_at
	WHERE signups.version < excluded.version AND signups.erased_at IS NULL`

// insertAuditOnce is InsertAudit as SQL, for the one-statement save.
const insertAuditOnce = `INSERT INTO audit_events (id, signup_id, user_id, actor, action, from_status, to_status,
		detail, dedupe_key, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (dedupe_key) DO NOTHING`

// Save writes the sign-up's row and, with a status change, its audit event,
// in one transaction with whatever runs in it first: step, which returns
// what to save (so a wizard step can put into the view what it learns in
// the transaction, such as the certificate it attached); step's error,
// returned as it is, rolls everything back. A save older than the stored
// one is ignored, so retries and replays never move the read model
// backwards; nor does any save bring back the personal data of an erased
// sign-up. It reports whether the audit event is new: a retried save finds
// it there.
func (s *Store) Save(ctx context.Context, step func(tx *gorm.DB) (Saved, error)) (audited bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		in, err := step(tx)
		if err != nil {
			return err
		}
		row, err := upsertArgs(in)
		if err != nil {
			return fmt.Errorf("save sign-up: %w", err)
		}
		audited, err = write(tx, in, row)
		return err
	})
	return audited && err == nil, err
}

// write runs in.Also, the upsert and, with an audit entry, the audit
// insert: on PostgreSQL as one statement (the others in a WITH, which runs
// whether or not it is read), elsewhere one by one.
func write(tx *gorm.DB, in Saved, row []any) (audited bool, err error) {
	if tx.Name() != "postgres" {
		if in.Also != nil {
			if err := in.Also.Exec(tx); err != nil {
				return false, fmt.Errorf("save sign-up: %w", err)
			}
		}
		if err := tx.Exec(upsertSignup, row...).Error; err != nil {
			return false, fmt.Errorf("save sign-up: %w", err)
		}
		if in.Audit == nil {
			return false, nil
		}
		return InsertAudit(tx, in.Audit.event(in.View.SignupID, in.Version, in.View.UpdatedAt))
	}
	var with []string
	var args []any
	if in.Also != nil {
		with, args = append(with, "also AS ("+in.Also.SQL+")"), append(args, in.Also.Args...)
	}
	sql := upsertSignup
	args = append(args, row...)
	if in.Audit != nil {
		e := in.Audit.event(in.View.SignupID, in.Version, in.View.UpdatedAt)
		with = append(with, "saved AS ("+upsertSignup+" RETURNING 1)")
		sql = insertAuditOnce
		args = append(args, uuid.NewString(), e.SignupID, e.UserID, e.Actor, e.Action, e.FromStatus, e.ToStatus, e.Detail, e.DedupeKey, e.CreatedAt)
	}
	if len(with) > 0 {
		sql = "WITH " + strings.Join(with, ", ") + " " + sql
	}
	res := tx.Exec(sql, args...)
	if res.Error != nil {
		return false, fmt.Errorf("save sign-up: %w", res.Error)
	}
	return in.Audit != nil && res.RowsAffected > 0, nil
}

// upsertArgs are upsertSignup's arguments for a saved view.
func upsertArgs(in Saved) ([]any, error) {
	viewJSON, err := json.Marshal(in.View)
	if err != nil {
		return nil, err
	}
	v := in.View
	var orgName, bizNo, email, lastErr *string
	if v.Organization != nil {
		orgName, email = &v.Organization.OrganizationName, &v.Organization.ContactEmail
	}
	if v.Business != nil && v.Business.BusinessNumber != "" {
		bizNo = &v.Business.BusinessNumber
	}
	if in.LastError != "" {
		lastErr = &in.LastError
	}
	return []any{v.SignupID, in.TokenHash, string(v.Status), WorkflowID(v.SignupID), orgName, bizNo,
		email, string(viewJSON), lastErr, in.Version, v.CreatedAt.UTC(), v.UpdatedAt.UTC()}, nil
}

// event is the audit row of a saved status change, keyed by the save's
// version so that a retried save inserts it once.
func (e *AuditEntry) event(signupID string, version int64, at time.Time) models.AuditEvent {
	detail := e.Detail
	switch {
	case e.Actor.Name != "" && e.Detail != "":
		detail = e.Actor.Name + ": " + e.Detail
	case e.Actor.Name != "":
		detail = e.Actor.Name
	}
	return models.AuditEvent{
		SignupID: &signupID, Actor: string(e.Actor.Kind), Action: string(e.Action),
		FromStatus: nonEmpty(string(e.From)), ToStatus: nonEmpty(string(e.To)), Detail: nonEmpty(detail),
		DedupeKey: nonEmpty(signupID + ":" + strconv.FormatInt(version, 10)), CreatedAt: at.UTC(),
	}
}

// InsertAudit inserts an audit event once per dedupe key, reporting whether
// it did.
func InsertAudit(tx *gorm.DB, e models.AuditEvent) (bool, error) {
	e.ID = uuid.NewString()
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "dedupe_key"}}, DoNothing: true}).Create(&e)
	if res.Error != nil {
		return false, fmt.Errorf("audit: %w", res.Error)
	}
	return res.RowsAffected > 0, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
