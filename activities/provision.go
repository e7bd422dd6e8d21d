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
	rows := a.provisionRows(in)
	err := a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		write := writeProvisioned
		if tx.Name() == "postgres" {
			write = writeProvisionedPostgres
		}
		made, held, err := write(tx, rows)
		if err != nil {
			if store.IsUniqueViolation(err) {
				return permanent(signup.CodeOrganizationNameTaken, "an organization named "+rows.org.Name+" exists", err)
			}
			return fmt.Errorf("provision: %w", err)
		}
		if !made {
			// Provisioned before (signup_id is unique): what the first run made.
			return provisioned(tx, in.SignupID, &res)
		}
		if !held {
			// Without the sign-up's reservation of the name, unprovisioned,
			// the transaction rolls back.
			return missingReservation(tx, in.SignupID, rows.org.Name)
		}
		res = parties{org: rows.org, owner: rows.owner}
		return nil
	})
	return res, err
}

// ownerRows are the rows provisioning writes.
type ownerRows struct {
	org     models.Organization
	owner   models.User
	profile models.BusinessProfile
	roles   []models.RoleAssignment
	audit   models.AuditEvent
}

// provisionRows builds the organization, its owner (login id = contact
// email, status invited), the business profile with the certificate, the
// owner's roles and the audit event of a submitted sign-up.
func (a *Activities) provisionRows(in ProvisionInput) ownerRows {
	now := a.now()
	org := models.Organization{ID: newID(), SignupID: in.SignupID, Name: in.Organization.OrganizationName,
		NameKey: ptr(in.Organization.OrganizationName), Status: models.OrganizationActive, CreatedAt: now, UpdatedAt: now}
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
	roles := make([]models.RoleAssignment, 0, len(models.OwnerRoles))
	for _, role := range models.OwnerRoles {
		roles = append(roles, models.RoleAssignment{ID: newID(), OrganizationID: org.ID, UserID: owner.ID, RoleID: role, CreatedAt: now})
	}
	audit := models.AuditEvent{ID: newID(), SignupID: ptr(in.SignupID), UserID: ptr(owner.ID), Actor: string(signup.ActorSystem),
		Action: string(signup.ActionOwnerProvisioned), DedupeKey: ptr(in.SignupID + ":provisioned"), CreatedAt: now}
	return ownerRows{org: org, owner: owner, profile: profile, roles: roles, audit: audit}
}

// writeProvisioned writes r statement by statement. The organization's
// insert is the check: a sign-up provisioned before inserts nothing (made
// false) and nothing else is written. held reports whether the sign-up's
// unprovisioned reservation of the name became the organization's.
func writeProvisioned(tx *gorm.DB, r ownerRows) (made, held bool, err error) {
	ins := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "signup_id"}}, DoNothing: true}).Create(&r.org)
	if ins.Error != nil || ins.RowsAffected == 0 {
		return false, false, ins.Error
	}
	res := tx.Model(&models.NameReservation{}).
		Where("signup_id = ? AND name_key = ? AND organization_id IS NULL", r.org.SignupID, *r.org.NameKey).
		Updates(map[string]any{"organization_id": r.org.ID, "updated_at": r.org.UpdatedAt})
	if res.Error != nil || res.RowsAffected == 0 {
		return true, false, res.Error
	}
	for _, row := range []any{&r.owner, &r.profile, &r.roles} {
		if err := tx.Create(row).Error; err != nil {
			return true, true, err
		}
	}
	if _, err := signup.InsertAudit(tx, r.audit); err != nil {
		return true, true, err
	}
	return true, true, nil
}

// provisionPostgres is writeProvisioned as one statement: every insert reads
// the organization's (no row when provisioned before), and the reservation's
// update is counted. Foreign keys are checked at the statement's end, after
// the organization's row is in.
const provisionPostgres = `WITH org AS (
	INSERT INTO organizations (id, signup_id, name, name_key, status, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (signup_id) DO NOTHING RETURNING id
), held AS (
	UPDATE name_reservations SET organization_id = org.id, updated_at = ? FROM org
	WHERE name_reservations.signup_id = ? AND name_reservations.name_key = ? AND name_reservations.organization_id IS NULL
	RETURNING 1
), owner AS (
	INSERT INTO users (id, organization_id, email, name, phone, is_owner, status, failed_attempts, created_at, updated_at)
	SELECT ?, org.id, ?, ?, ?, TRUE, ?, 0, ?, ? FROM org
), profile AS (
	INSERT INTO business_profiles (id, organization_id, signup_id, business_number, company_name, billing_email,
		representative_name, representative_phone, address, business_type, business_category, business_status,
		verification_source, verified_at, certificate_id, created_at)
	SELECT ?, org.id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM org
), roles AS (
	INSERT INTO role_assignments (id, organization_id, user_id, role_id, created_at)
	SELECT r.id, org.id, ?, r.role_id, ? FROM org, (VALUES (?, ?), (?, ?)) AS r (id, role_id)
), audit AS (
	INSERT INTO audit_events (id, signup_id, user_id, actor, action, dedupe_key, created_at)
	SELECT ?, ?, ?, ?, ?, ?, ? FROM org ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT (SELECT count(*) FROM org), (SELECT count(*) FROM held)`

// writeProvisionedPostgres is writeProvisioned on PostgreSQL, in one
// statement (provisionPostgres).
func writeProvisionedPostgres(tx *gorm.DB, r ownerRows) (made, held bool, err error) {
	if len(r.roles) != 2 {
		return false, false, fmt.Errorf("provision: %d owner roles, the statement has 2", len(r.roles))
	}
	o, u, p, e := r.org, r.owner, r.profile, r.audit
	args := []any{
		o.ID, o.SignupID, o.Name, o.NameKey, o.Status, o.CreatedAt, o.UpdatedAt,
		o.UpdatedAt, o.SignupID, o.NameKey,
		u.ID, u.Email, u.Name, u.Phone, u.Status, u.CreatedAt, u.UpdatedAt,
		p.ID, p.SignupID, p.BusinessNumber, p.CompanyName, p.BillingEmail, p.RepresentativeName, p.RepresentativePhone,
		p.Address, p.BusinessType, p.BusinessCategory, p.BusinessStatus, p.VerificationSource, p.VerifiedAt, p.CertificateID, p.CreatedAt,
		u.ID, r.roles[0].CreatedAt, r.roles[0].ID, r.roles[0].RoleID, r.roles[1].ID, r.roles[1].RoleID,
		e.ID, e.SignupID, e.UserID, e.Actor, e.Action, e.DedupeKey, e.CreatedAt,
	}
	var orgs, holds int64
	if err := tx.Raw(provisionPostgres, args...).Row().Scan(&orgs, &holds); err != nil {
		return false, false, err
	}
	return orgs > 0, holds > 0, nil
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
