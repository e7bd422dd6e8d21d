package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kcloud/onboarding/internal/bizno"
	"github.com/kcloud/onboarding/internal/nts"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
)

// VerifyInput is a business number to verify, for a sign-up.
type VerifyInput struct {
	BusinessNumber string
	// SignupID, when set, makes the sign-up hold one of the business
	// number's MAX_OPEN_SIGNUPS_PER_BUSINESS slots (sign-ups verified
	// before it was sent hold none).
	SignupID string `json:",omitempty"`
	// Save, when set, is the sign-up's next view, written once the number
	// is verified (with the slots given back, in one transaction) instead of
	// by a SaveSignup of its own; the verification is filled in here.
	Save *SaveSignupInput `json:",omitempty"`
}

// VerifyBusinessNumber checks the checksum (no network) and, with a service
// key, asks the National Tax Service whether the business is active, using a
// cached answer while it is fresh. Unregistered, suspended and closed
// businesses are non-retryable errors; an unreachable service is retryable.
// The tax service is asked outside any transaction.
//
// With a sign-up id and a bound, the sign-up first takes a slot of the
// number (too_many_open_signups when none is free, before the tax service is
// asked); once the number is verified the sign-up's slots of other numbers
// are given back, and when it is not, a slot taken by this call is. With
// Save, the view is written only when the number is verified, in the
// transaction that gives the other slots back; run again, the slot is held
// already and the save is not newer than the stored one.
func (a *Activities) VerifyBusinessNumber(ctx context.Context, in VerifyInput) (signup.Verification, error) {
	n, err := bizno.Parse(in.BusinessNumber)
	if err != nil {
		return signup.Verification{}, permanent(signup.CodeInvalidBusinessNumber, err.Error(), nil)
	}
	bounded := in.SignupID != "" && a.maxOpenPerBusiness > 0
	fresh := false
	if bounded {
		if fresh, err = a.claimBusinessNumber(ctx, in.SignupID, n.String()); err != nil {
			return signup.Verification{}, err
		}
	}
	v, err := a.verifyNumber(ctx, n)
	if err != nil {
		if fresh {
			// Not verified: the slot this call took goes back.
			a.giveBack(ctx, in.SignupID, releaseSlot(in.SignupID, n.String()))
		}
		return v, err
	}
	if in.Save == nil {
		if bounded {
			// Verified: slots of numbers verified before go back.
			a.giveBack(ctx, in.SignupID, releaseOtherSlots(in.SignupID, n.String()))
		}
		return v, nil
	}
	var giveBack *signup.Also
	if bounded {
		// Slots of numbers verified before go back with the save.
		giveBack = releaseOtherSlots(in.SignupID, n.String())
	}
	err = a.saveWith(ctx, in.Save, nil, func(view *signup.View) { *view = view.WithVerification(v) }, giveBack)
	if err != nil {
		if fresh {
			// Not saved, so not verified: the slot this call took goes back
			// (the other slots stay with the transaction's rollback), even
			// when the save failed because ctx ended.
			gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			a.giveBack(gctx, in.SignupID, releaseSlot(in.SignupID, n.String()))
			cancel()
		}
		return signup.Verification{}, fmt.Errorf("verify: save: %w", err)
	}
	return v, nil
}

// giveBack runs a release of the sign-up's slots on its own; a failure is
// logged, not returned (the verification's outcome stands).
func (a *Activities) giveBack(ctx context.Context, signupID string, release *signup.Also) {
	if err := release.Exec(a.db.WithContext(ctx)); err != nil {
		a.log.WarnContext(ctx, "giving back business number slots failed", "signup_id", signupID, "error", err)
	}
}

// verifyNumber checks a parsed number with the tax service (or the checksum).
func (a *Activities) verifyNumber(ctx context.Context, n bizno.Number) (signup.Verification, error) {
	now := a.now()
	var err error
	v := signup.Verification{BusinessNumber: n.String(), Verified: true, BusinessStatus: string(nts.StateActive), CheckedAt: now}
	if a.nts == nil {
		// Without a service key only the checksum is checked; the status is
		// assumed active and the source says so.
		v.Source = signup.SourceChecksum
		return v, nil
	}
	v.Source = signup.SourceNTS

	var cached models.NTSCacheEntry
	err = a.db.WithContext(ctx).Where("business_number = ? AND expires_at > ?", n.Digits(), now).Take(&cached).Error
	switch {
	case err == nil:
		v.CheckedAt = cached.CheckedAt
		return v, stateError(nts.State(cached.Status))
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return signup.Verification{}, fmt.Errorf("verify: cache: %w", err)
	}

	answers, err := a.nts.Status(ctx, []string{n.Digits()})
	if err != nil {
		var ne *nts.Error
		if errors.As(err, &ne) && !ne.Temporary() {
			a.log.ErrorContext(ctx, "tax service refused the status request", "http_status", ne.HTTPStatus, "code", ne.Code)
			return signup.Verification{}, permanent(signup.CodeNTSRejected, "the tax service refused the request: "+ne.Error(), nil)
		}
		return signup.Verification{}, fmt.Errorf("verify: %w", err)
	}
	st := answers[n.Digits()]
	entry := models.NTSCacheEntry{BusinessNumber: n.Digits(), Status: string(st.State), StatusCode: st.Code,
		TaxType: st.TaxType, CheckedAt: now, ExpiresAt: now.Add(a.ntsCacheTTL)}
	if a.ntsCacheTTL > 0 {
		if err := a.db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&entry).Error; err != nil {
			a.log.WarnContext(ctx, "caching the tax service answer failed", "error", err)
		}
	}
	return v, stateError(st.State)
}

func stateError(s nts.State) error {
	switch s {
	case nts.StateActive:
		return nil
	case nts.StateNotRegistered:
		return permanent(signup.CodeBusinessNotRegistered, "the National Tax Service does not know this business number", nil)
	case nts.StateSuspended:
		return permanent(signup.CodeBusinessNotActive, "the business is suspended (휴업자)", nil)
	case nts.StateClosed:
		return permanent(signup.CodeBusinessNotActive, "the business is closed (폐업자)", nil)
	}
	return fmt.Errorf("verify: unknown state %q", s)
}
