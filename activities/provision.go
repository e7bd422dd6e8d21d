package activities

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

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
	var res ProvisionResult
	now := a.now()
	err := a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var org models.Organization
		err := tx.Where("signup_id = ?", in.SignupID).Take(&org).Error
		if err == nil {
			var owner models.User
			if err := tx.Where("organization_id = ? AND is_owner = ?", org.ID, true).Take(&owner).Error; err != nil {
				return fmt.Errorf("provision: owner of existing organization: %w", err)
			}
			res = ProvisionResult{OrganizationID: org.ID, UserID: owner.ID}
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("provision: %w", err)
		}

		var held models.NameReservation
		if err := tx.Where("signup_id = ?", in.SignupID).Take(&held).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return permanent(signup.CodeReservationMissing, "the sign-up holds no organization name reservation", nil)
			}
			return fmt.Errorf("provision: reservation: %w", err)
		}
		if held.NameKey != in.Organization.OrganizationName {
			return permanent(signup.CodeReservationMissing, "the sign-up holds "+held.NameKey+", not "+in.Organization.OrganizationName, nil)
		}

		org = models.Organization{ID: newID(), SignupID: in.SignupID, Name: in.Organization.OrganizationName,
			NameKey: ptr(held.NameKey), Status: models.OrganizationActive, CreatedAt: now, UpdatedAt: now}
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
		if err := tx.Create(&org).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return permanent(signup.CodeOrganizationNameTaken, "an organization named "+org.Name+" exists", err)
			}
			return fmt.Errorf("provision: organization: %w", err)
		}
		if err := tx.Create(&owner).Error; err != nil {
			return fmt.Errorf("provision: owner: %w", err)
		}
		if err := tx.Create(&profile).Error; err != nil {
			return fmt.Errorf("provision: business profile: %w", err)
		}
		for _, role := range models.OwnerRoles {
			ra := models.RoleAssignment{ID: newID(), OrganizationID: org.ID, UserID: owner.ID, RoleID: role, CreatedAt: now}
			if err := tx.Create(&ra).Error; err != nil {
				return fmt.Errorf("provision: role %s: %w", role, err)
			}
		}
		if err := tx.Model(&models.NameReservation{}).Where("signup_id = ?", in.SignupID).
			Updates(map[string]any{"organization_id": org.ID, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("provision: reservation: %w", err)
		}
		if _, err := a.audit(tx, models.AuditEvent{SignupID: ptr(in.SignupID), UserID: ptr(owner.ID),
			Actor: string(signup.ActorSystem), Action: string(signup.ActionOwnerProvisioned), DedupeKey: ptr(in.SignupID + ":provisioned")}); err != nil {
			return err
		}
		res = ProvisionResult{OrganizationID: org.ID, UserID: owner.ID}
		return nil
	})
	return res, err
}
