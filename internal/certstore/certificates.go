package certstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/models"
)

// Row states (see the package comment).
const (
	StateUploading = "uploading"
	StateStored    = "stored"
	StateDeleting  = "deleting"
)

// cleanupTimeout bounds the clean-up after a failed upload, which runs on
// even when the request that failed was cancelled.
const cleanupTimeout = 30 * time.Second

// Upload records a certificate and streams at most max bytes of r, sealed,
// into its object; the SHA-256 and size are computed on the way. The row is
// written first (uploading), the object next, then the row is completed
// (stored). When anything fails — the reader (a client that went away), the
// bound (ErrTooLarge), the store, the database — both are removed before
// Upload returns; a process killed half-way leaves an uploading row, which
// Sweep removes with its object.
func (s *Store) Upload(ctx context.Context, signupID, filename, contentType string, r io.Reader, max int64) (models.Certificate, error) {
	id := uuid.NewString()
	key := objectKey(id, s.keys.ActiveKeyID())
	c := models.Certificate{ID: id, SignupID: signupID, Filename: filename, ContentType: contentType,
		ObjectKey: &key, KeyID: ptr(s.keys.ActiveKeyID()), State: StateUploading, CreatedAt: s.now().UTC()}
	if err := s.db.WithContext(ctx).Create(&c).Error; err != nil {
		return c, fmt.Errorf("certstore: record upload: %w", err)
	}
	fail := func(err error) (models.Certificate, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if rerr := s.Remove(cctx, []Pending{{ID: id, ObjectKey: &key}}); rerr != nil {
			// The sweep finishes it (the row stays uploading or deleting).
			s.log.Warn("certificate upload: clean-up failed; the sweep will remove it", "certificate_id", id, "error", rerr)
		}
		return c, err
	}
	out, err := s.put(ctx, key, id, r, max)
	if err != nil {
		return fail(err)
	}
	res := s.db.WithContext(ctx).Model(&models.Certificate{}).Where("id = ? AND state = ?", id, StateUploading).
		Updates(map[string]any{"state": StateStored, "size": out.Size, "sha256": out.SHA256, "key_id": out.KeyID})
	if res.Error == nil && res.RowsAffected != 1 {
		res.Error = errors.New("the upload's row is gone (swept?)")
	}
	if res.Error != nil {
		return fail(fmt.Errorf("certstore: complete upload: %w", res.Error))
	}
	c.State, c.Size, c.SHA256, c.KeyID = StateStored, out.Size, out.SHA256, &out.KeyID
	return c, nil
}

// Pending is a retired certificate whose object and row are to be removed.
type Pending struct {
	ID        string
	ObjectKey *string
}

// Retire marks the certificates that match (in the caller's transaction, so
// that they go exactly when what made them unneeded commits) as deleting,
// and returns them for Remove after the commit.
func Retire(tx *gorm.DB, query any, args ...any) ([]Pending, error) {
	var rows []models.Certificate
	if err := tx.Select("id", "object_key").Where(query, args...).Where("state <> ?", StateDeleting).
		Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("certstore: retire: %w", err)
	}
	return RetireRows(tx, rows)
}

// RetireRows is Retire of rows the caller has read in tx (id and object_key
// at least, none of them deleting already): one statement fewer when the
// caller reads the sign-up's certificates anyway.
func RetireRows(tx *gorm.DB, rows []models.Certificate) ([]Pending, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	if err := tx.Model(&models.Certificate{}).Where("id IN ?", ids).Update("state", StateDeleting).Error; err != nil {
		return nil, fmt.Errorf("certstore: retire: %w", err)
	}
	return pendingOf(rows), nil
}

// Remove deletes retired certificates: each object, then its row. Deleting
// what is already gone is not an error, so Remove may run any number of
// times; what fails stays retired for Sweep.
func (s *Store) Remove(ctx context.Context, pending []Pending) error {
	var errs []error
	for _, p := range pending {
		if p.ObjectKey != nil {
			if err := s.deleteObject(ctx, *p.ObjectKey); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := s.db.WithContext(ctx).Where("id = ?", p.ID).Delete(&models.Certificate{}).Error; err != nil {
			errs = append(errs, fmt.Errorf("certstore: delete row %s: %w", p.ID, err))
		}
	}
	return errors.Join(errs...)
}

// Discard removes one certificate (an upload the sign-up refused).
func (s *Store) Discard(ctx context.Context, id string) error {
	var pending []Pending
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		pending, err = Retire(tx, "id = ?", id)
		return err
	})
	if err != nil {
		return err
	}
	return s.Remove(ctx, pending)
}

// RemoveRetired finishes the removal of whatever is retired for a sign-up
// (a retry of an activity whose Remove failed, or was cut short).
func (s *Store) RemoveRetired(ctx context.Context, signupID string) error {
	var rows []models.Certificate
	if err := s.db.WithContext(ctx).Select("id", "object_key").
		Where("signup_id = ? AND state = ?", signupID, StateDeleting).Find(&rows).Error; err != nil {
		return fmt.Errorf("certstore: %w", err)
	}
	return s.Remove(ctx, pendingOf(rows))
}

func pendingOf(rows []models.Certificate) []Pending {
	out := make([]Pending, 0, len(rows))
	for _, r := range rows {
		out = append(out, Pending{ID: r.ID, ObjectKey: r.ObjectKey})
	}
	return out
}

// SweepResult counts what a sweep removed.
type SweepResult struct {
	Unfinished int // uploads cut off by a crash (rows and their objects)
	Retired    int // retired rows a crash left behind (and their objects)
	Debris     int // temporary files, stray attribute files, incomplete multipart uploads
}

// Sweep removes what crashes left: uploads still unfinished and backend
// debris older than before, and every retired row. Run it at most as
// often as the grace: an upload younger than before is left alone.
func (s *Store) Sweep(ctx context.Context, before time.Time, batch int) (SweepResult, error) {
	var res SweepResult
	for {
		var rows []models.Certificate
		if err := s.db.WithContext(ctx).Select("id", "object_key", "state").
			// Literal states, as in the partial index certificates_unsettled_idx.
			Where("state IN ('uploading', 'deleting') AND (state = 'deleting' OR created_at < ?)", before.UTC()).
			Order("created_at").Limit(batch).Find(&rows).Error; err != nil {
			return res, fmt.Errorf("certstore: sweep: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			if r.State == StateUploading {
				// Retire it first: a late completion of the upload then
				// finds no uploading row and cleans up after itself.
				if err := s.db.WithContext(ctx).Model(&models.Certificate{}).Where("id = ? AND state = ?", r.ID, StateUploading).
					Update("state", StateDeleting).Error; err != nil {
					return res, fmt.Errorf("certstore: sweep: %w", err)
				}
				res.Unfinished++
			} else {
				res.Retired++
			}
		}
		if err := s.Remove(ctx, pendingOf(rows)); err != nil {
			return res, err
		}
		if len(rows) < batch {
			break
		}
	}
	n, err := s.sweepBackend(ctx, before)
	res.Debris = n
	return res, err
}

// Open returns a certificate's plaintext, from its sealed object (or, for a
// row from before the store, from the database). The reader fails rather
// than end early when the object was altered.
func (s *Store) Open(ctx context.Context, c models.Certificate) (io.ReadCloser, error) {
	if c.ObjectKey == nil {
		if c.Data == nil {
			return nil, fmt.Errorf("certstore: certificate %s has neither an object nor data", c.ID)
		}
		return io.NopCloser(bytes.NewReader(c.Data)), nil
	}
	return s.openObject(ctx, *c.ObjectKey, c.ID)
}

// verify reads a certificate back through Open and checks its SHA-256.
func (s *Store) verify(ctx context.Context, c models.Certificate) error {
	r, err := s.Open(ctx, c)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("certstore: read back %s: %w", c.ID, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != c.SHA256 {
		return fmt.Errorf("certstore: certificate %s reads back with SHA-256 %s, recorded %s", c.ID, got, c.SHA256)
	}
	return nil
}
