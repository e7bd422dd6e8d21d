package activities

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/models"
)

// ProvisionInput is a submitted sign-up.
type ProvisionInput struct {
	SignupID      string
	Business      signup.Business
	Organization  signup.Organization
	CertificateID string
}

// ProvisionResult names what was provisioned.
type ProvisionResult struct {
	OrganizationID string
	UserID         string
}

// ProvisionOwner creates, in one transaction, the organization, its owner
// (login id = contact email, status invited), the business profile with the
// certificate, and the owner's organization_admin and billing_admin roles.
// Run again for the same sign-up it returns what the first run made.
func (a *Activities) ProvisionOwner(ctx context.Context, in ProvisionInput) (ProvisionResult, error) {
	defer keepAlive(ctx)()
	p, err := a.provisionOwner(ctx, in)
	return ProvisionResult{OrganizationID: p.org.ID, UserID: p.owner.ID}, err
}

// parties are a provisioned sign-up's organization and owner, as stored.
type parties struct {
	org   models.Organization
	owner models.User
}

// provisionOwner is ProvisionOwner without its heartbeat, returning the
// organization and owner it made or found.
func (a *Activities) provisionOwner(ctx context.Context, in ProvisionInput) (parties, error) {
	var res parties
	now := a.now()
	err := a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		key := in.Organization.OrganizationName
		org := models.Organization{ID: newID(), SignupID: in.SignupID, Name: in.Organization.OrganizationName,
			NameKey: ptr(key), Status: models.OrganizationActive, CreatedAt: now, UpdatedAt: now}
		owner := models.User{ID: newID(), OrganizationID: org.ID, Email: in.Organization.ContactEmail,
			Name: in.Organization.ContactName, Phone: in.Organization.MobilePhone, IsOwner: true,
			Status: models.UserInvited, CreatedAt: now, UpdatedAt: now}
		b := in.Business
		verifiedAt := now
		if b.VerifiedAt != nil {
			verifiedAt = *b.VerifiedAt
		}
		profile := models.BusinessProfile{ID: newID(), OrganizationID: org.ID, SignupID: in.SignupID,
			BusinessNumber: b.BusinessNumber, CompanyName: b.CompanyName, BillingEmail: b.BillingEmail,
			RepresentativeName: b.RepresentativeName, RepresentativePhone: b.RepresentativePhone,
			Address: b.Address, BusinessType: b.BusinessType, BusinessCategory: b.BusinessCategory,
			BusinessStatus: b.BusinessStatus, VerificationSource: b.VerificationSource,
			VerifiedAt: verifiedAt, CertificateID: nonEmpty(in.CertificateID), CreatedAt: now}
		// The insert is the check: a sign-up provisioned before (signup_id
		// is unique) inserts nothing and gets what the first run made.
		ins := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "signup_id"}}, DoNothing: true}).Create(&org)
		if err := ins.Error; err != nil {
			if store.IsUniqueViolation(err) {
				return permanent(signup.CodeOrganizationNameTaken, "an organization named "+org.Name+" exists", err)
			}
			return fmt.Errorf("provision: organization: %w", err)
		}
		if ins.RowsAffected == 0 {
			return provisioned(tx, in.SignupID, &res)
		}
		// The sign-up's reservation of this name, unprovisioned, becomes
		// the organization's; without it the transaction rolls back.
		held := tx.Model(&models.NameReservation{}).
			Where("signup_id = ? AND name_key = ? AND organization_id IS NULL", in.SignupID, key).
			Updates(map[string]any{"organization_id": org.ID, "updated_at": now})
		if held.Error != nil {
			return fmt.Errorf("provision: reservation: %w", held.Error)
		}
		if held.RowsAffected == 0 {
			return missingReservation(tx, in.SignupID, key)
		}
		if err := tx.Create(&owner).Error; err != nil {
			return fmt.Errorf("provision: owner: %w", err)
		}
		if err := tx.Create(&profile).Error; err != nil {
			return fmt.Errorf("provision: business profile: %w", err)
		}
		roles := make([]models.RoleAssignment, 0, len(models.OwnerRoles))
		for _, role := range models.OwnerRoles {
			roles = append(roles, models.RoleAssignment{ID: newID(), OrganizationID: org.ID, UserID: owner.ID, RoleID: role, CreatedAt: now})
		}
		if err := tx.Create(&roles).Error; err != nil {
			return fmt.Errorf("provision: roles: %w", err)
		}
		if _, err := a.audit(tx, models.AuditEvent{SignupID: ptr(in.SignupID), UserID: ptr(owner.ID),
			Actor: string(signup.ActorSystem), Action: string(signup.ActionOwnerProvisioned), DedupeKey: ptr(in.SignupID + ":provisioned")}); err != nil {
			return err
		}
		res = parties{org: org, owner: owner}
		return nil
	})
	return res, err
}

// provisioned reads what an earlier run provisioned for the sign-up.
func provisioned(tx *gorm.DB, signupID string, res *parties) error {
	var org models.Organization
	if err := tx.Where("signup_id = ?", signupID).Take(&org).Error; err != nil {
		return fmt.Errorf("provision: existing organization: %w", err)
	}
	var owner models.User
	if err := tx.Where("organization_id = ? AND is_owner = ?", org.ID, true).Take(&owner).Error; err != nil {
		return fmt.Errorf("provision: owner of existing organization: %w", err)
	}
	*res = parties{org: org, owner: owner}
	return nil
}

// missingReservation is the error of a sign-up that does not hold key
// unprovisioned: it holds none, or another name.
func missingReservation(tx *gorm.DB, signupID, key string) error {
	var held models.NameReservation
	err := tx.Where("signup_id = ?", signupID).Take(&held).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return permanent(signup.CodeReservationMissing, "the sign-up holds no organization name reservation", nil)
	case err != nil:
		return fmt.Errorf("provision: reservation: %w", err)
	default:
		return permanent(signup.CodeReservationMissing, "the sign-up holds "+held.NameKey+", not "+key, nil)
	}
}
