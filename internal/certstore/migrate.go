package certstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/kcloud/onboarding/models"
)

// MigrateResult counts what Migrate did.
type MigrateResult struct {
	Moved    int // certificates copied from the database into the store
	Resealed int // objects sealed again under the active key
}

// Migrate moves every certificate still held in the database into the
// store, sealed, and re-seals every object sealed under a key other than the
// active one (after a key rotation). Each certificate is read back and its
// SHA-256 checked before the database forgets the old copy. It can be run
// any number of times, and after a crash: a certificate is either done or
// done again.
func (s *Store) Migrate(ctx context.Context, batch int, progress func(MigrateResult)) (MigrateResult, error) {
	var res MigrateResult
	if progress == nil {
		progress = func(MigrateResult) {}
	}
	for {
		var ids []string
		if err := s.db.WithContext(ctx).Model(&models.Certificate{}).Where("data IS NOT NULL AND state = ?", StateStored).
			Order("id").Limit(batch).Pluck("id", &ids).Error; err != nil {
			return res, fmt.Errorf("certstore: migrate: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		for _, id := range ids {
			if err := s.moveOne(ctx, id); err != nil {
				return res, err
			}
			res.Moved++
		}
		progress(res)
	}
	active := s.keys.ActiveKeyID()
	for {
		var rows []models.Certificate
		if err := s.db.WithContext(ctx).Where("object_key IS NOT NULL AND state = ? AND key_id <> ?", StateStored, active).
			Order("id").Limit(batch).Find(&rows).Error; err != nil {
			return res, fmt.Errorf("certstore: reseal: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		for _, c := range rows {
			if err := s.resealOne(ctx, c); err != nil {
				return res, err
			}
			res.Resealed++
		}
		progress(res)
	}
	return res, nil
}

// moveOne seals one certificate's bytes from the database into the store,
// checks the object, then clears the column.
func (s *Store) moveOne(ctx context.Context, id string) error {
	var c models.Certificate
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		return fmt.Errorf("certstore: migrate %s: %w", id, err)
	}
	if c.Data == nil {
		return nil // moved meanwhile
	}
	key := objectKey(c.ID, s.keys.ActiveKeyID())
	// A re-run after a crash writes the same object again: nothing is left
	// over, whatever point the crash came at.
	out, err := s.put(ctx, key, c.ID, bytes.NewReader(c.Data), int64(len(c.Data)))
	if err != nil {
		return fmt.Errorf("certstore: migrate %s: %w", id, err)
	}
	if out.SHA256 != c.SHA256 {
		_ = s.deleteObject(ctx, key)
		return fmt.Errorf("certstore: migrate %s: the stored bytes hash to %s, the row says %s; left in the database", id, out.SHA256, c.SHA256)
	}
	moved := c
	moved.ObjectKey, moved.KeyID, moved.Data = &key, &out.KeyID, nil
	if err := s.verify(ctx, moved); err != nil {
		_ = s.deleteObject(ctx, key)
		return fmt.Errorf("certstore: migrate %s: %w; left in the database", id, err)
	}
	res := s.db.WithContext(ctx).Model(&models.Certificate{}).Where("id = ? AND data IS NOT NULL", id).
		Updates(map[string]any{"data": nil, "object_key": key, "key_id": out.KeyID, "size": out.Size})
	if res.Error != nil {
		return fmt.Errorf("certstore: migrate %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		// Deleted (or moved by another run) meanwhile: the object is ours
		// only if the row does not name it.
		var n int64
		if err := s.db.WithContext(ctx).Model(&models.Certificate{}).Where("id = ? AND object_key = ?", id, key).Count(&n).Error; err == nil && n == 0 {
			_ = s.deleteObject(ctx, key)
		}
	}
	return nil
}

// resealOne copies an object, streaming, to a new object under the active
// key, points the row at it and retires the old object in the same
// transaction (a tombstone row), so that a crash leaves nothing unowned.
func (s *Store) resealOne(ctx context.Context, c models.Certificate) error {
	oldKey := *c.ObjectKey
	r, err := s.Open(ctx, c)
	if err != nil {
		return fmt.Errorf("certstore: reseal %s: %w", c.ID, err)
	}
	key := objectKey(c.ID, s.keys.ActiveKeyID())
	out, err := s.put(ctx, key, c.ID, r, c.Size)
	_ = r.Close()
	if err != nil {
		return fmt.Errorf("certstore: reseal %s: %w", c.ID, err)
	}
	if out.SHA256 != c.SHA256 {
		_ = s.deleteObject(ctx, key)
		return fmt.Errorf("certstore: reseal %s: the object reads as SHA-256 %s, the row says %s; left as it was", c.ID, out.SHA256, c.SHA256)
	}
	tomb := models.Certificate{ID: uuid.NewString(), SignupID: c.SignupID, Filename: "", ContentType: "",
		ObjectKey: &oldKey, KeyID: c.KeyID, State: StateDeleting, CreatedAt: s.now().UTC()}
	moved := false
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&models.Certificate{}).Where("id = ? AND object_key = ? AND state = ?", c.ID, oldKey, StateStored).
			Updates(map[string]any{"object_key": key, "key_id": out.KeyID})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil // deleted or re-sealed meanwhile
		}
		moved = true
		return tx.Create(&tomb).Error
	})
	if err != nil {
		_ = s.deleteObject(ctx, key)
		return fmt.Errorf("certstore: reseal %s: %w", c.ID, err)
	}
	if !moved {
		if key != oldKey {
			_ = s.deleteObject(ctx, key)
		}
		return nil
	}
	return s.Remove(ctx, []Pending{{ID: tomb.ID, ObjectKey: &oldKey}})
}

// Stats counts certificates by where their bytes are.
type Stats struct {
	InDatabase int64            // bytes still in the database
	ByKey      map[string]int64 // stored objects by the key they are sealed under
	Unsettled  int64            // uploading or deleting
}

// Stats reports where the certificates are.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByKey: map[string]int64{}}
	db := s.db.WithContext(ctx).Model(&models.Certificate{})
	if err := db.Where("data IS NOT NULL").Count(&st.InDatabase).Error; err != nil {
		return st, err
	}
	var rows []struct {
		KeyID string
		N     int64
	}
	if err := s.db.WithContext(ctx).Model(&models.Certificate{}).Select("key_id, COUNT(*) AS n").
		Where("object_key IS NOT NULL AND state = ?", StateStored).Group("key_id").Scan(&rows).Error; err != nil {
		return st, err
	}
	for _, r := range rows {
		st.ByKey[r.KeyID] = r.N
	}
	err := s.db.WithContext(ctx).Model(&models.Certificate{}).Where("state IN ('uploading', 'deleting')").Count(&st.Unsettled).Error
	return st, err
}
