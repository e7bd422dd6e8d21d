package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/activities"
	"github.com/kcloud/onboarding/internal/signup"
)

// inviteState is the invitation's: the number of links mailed so far, and
// whether the owner's password is set (the password_set signal, or an
// activity that found the owner active already).
type inviteState struct {
	seq         int
	passwordSet bool
}

// receivePasswordSet marks the password set on each password_set signal.
func (w *signupWorkflow) receivePasswordSet(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, SignalPasswordSet)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var sig PasswordSet
			if !ch.Receive(ctx, &sig) {
				return
			}
			w.invite.passwordSet = true
		}
	})
}

// sendInvite mails the next link with a fresh expiry window (step 5, and an
// operator's resend).
func (w *signupWorkflow) sendInvite(ctx workflow.Context, kind signup.InvitationKind, actor signup.Actor, action signup.Action) error {
	return w.mailLink(ctx, nil, kind, actor, action)
}

// provisionAndInvite is steps 4 and 5 in one activity (from changeShape 4):
// the organization and its owner, then the first link.
func (w *signupWorkflow) provisionAndInvite(ctx workflow.Context) error {
	return w.mailLink(ctx, w.provisionInput(), signup.InvitationFirst, systemActor, signup.ActionInvitationSent)
}

// mailLink mails the next link with a fresh expiry window, after
// provisioning in the same activity when prov is set.
func (w *signupWorkflow) mailLink(ctx workflow.Context, prov *activities.ProvisionInput, kind signup.InvitationKind, actor signup.Actor, action signup.Action) error {
	var res activities.SendInvitationResult
	var expires time.Time
	var next signup.View
	err := w.attempt(ctx, activities.StepSendInvitation, func(ctx workflow.Context) error {
		w.invite.seq++
		expires = workflow.Now(ctx).Add(w.in.Settings.InviteTTL)
		in := activities.SendInvitationInput{SignupID: w.in.SignupID, Seq: w.invite.seq, Kind: kind, ExpiresAt: expires}
		if w.versions.shape >= 2 {
			// The invited view goes with the activity, written in its last
			// transaction: no save of its own. Numbered like any save, so
			// a late attempt never hides a later one.
			next = copyView(w.view)
			next.Status = signup.StatusInvited
			next.Invite = &signup.Invite{ExpiresAt: expires}
			next.UpdatedAt = workflow.Now(ctx)
			w.saved.version++
			in.Save = &activities.SaveSignupInput{View: next, TokenHash: w.in.TokenHash, Version: w.saved.version,
				Audit: &signup.AuditEntry{Actor: actor, Action: action, From: w.view.Status, To: signup.StatusInvited}}
		}
		if prov != nil {
			return workflow.ExecuteActivity(w.withRegularActivity(ctx), a.ProvisionAndInvite,
				activities.ProvisionAndInviteInput{Provision: *prov, Invite: in}).Get(ctx, &res)
		}
		return workflow.ExecuteActivity(w.withRegularActivity(ctx), a.SendInvitation, in).Get(ctx, &res)
	})
	if err != nil {
		return err
	}
	if res.AlreadyActive {
		w.invite.passwordSet = true
	}
	sent := res.SentAt
	if w.versions.shape >= 2 {
		if !sent.IsZero() {
			next.Invite.SentAt = &sent
		}
		w.saved.transitions++
		w.view = next
		w.upsertSearchAttributes(ctx)
		return nil
	}
	w.view.Invite = &signup.Invite{ExpiresAt: expires}
	if !sent.IsZero() {
		w.view.Invite.SentAt = &sent
	}
	w.transition(ctx, signup.StatusInvited, actor, action, "")
	return nil
}

// awaitPassword waits for the password_set signal against the invitation's
// expiry, sending a reminder before it, and afterwards (reset_required) for
// the password to be set by a reset (step 6). Operators may resend or cancel.
func (w *signupWorkflow) awaitPassword(ctx workflow.Context) error {
	for {
		timedOut, err := w.awaitInviteEvent(ctx)
		if err != nil {
			return err
		}
		switch {
		case w.invite.passwordSet:
			w.transition(ctx, signup.StatusActive, userActor, signup.ActionPasswordSet, "")
			return nil
		case w.ops.cancel != nil:
			return w.releaseIfCancelled(ctx, errCanceled)
		case w.ops.resend != nil:
			op := w.ops.resend
			if err := w.sendInvite(ctx, signup.InvitationResend, w.operatorOrSystem(op), signup.ActionInvitationResent); err != nil {
				return w.releaseIfCancelled(ctx, err)
			}
			w.ops.resend = nil
		case timedOut && !workflow.Now(ctx).Before(w.view.Invite.ExpiresAt):
			if err := w.expire(ctx); err != nil {
				return w.releaseIfCancelled(ctx, err)
			}
		case timedOut:
			w.remind(ctx)
		}
	}
}

// awaitInviteEvent waits for the password, an operator's resend or cancel,
// or (while invited) the reminder's or the expiry's time, reporting whether
// time ran out.
func (w *signupWorkflow) awaitInviteEvent(ctx workflow.Context) (bool, error) {
	wake := func() bool { return w.invite.passwordSet || w.ops.resend != nil || w.ops.cancel != nil }
	if w.view.Status != signup.StatusInvited {
		return false, workflow.Await(ctx, wake)
	}
	now := workflow.Now(ctx)
	next := w.view.Invite.ExpiresAt
	if w.reminderDue() {
		next = next.Add(-w.in.Settings.InviteReminderBefore)
	}
	if w.versions.timers == workflow.DefaultVersion {
		ok, err := workflow.AwaitWithTimeout(ctx, max(next.Sub(now), 0), wake)
		return !ok && err == nil, err
	}
	if w.versions.shape >= 4 {
		// A set password ends the sign-up: its timer is left.
		return awaitUntilOrEnd(ctx, next.Sub(now), wake, func() bool { return w.invite.passwordSet })
	}
	return awaitUntil(ctx, next.Sub(now), wake)
}

func (w *signupWorkflow) reminderDue() bool {
	before := w.in.Settings.InviteReminderBefore
	return before > 0 && before < w.in.Settings.InviteTTL && !w.view.Invite.Reminded
}

// remind mails a fresh link (killing the old one once it is out). A reminder
// that cannot be sent is logged and skipped: the earlier link still works.
func (w *signupWorkflow) remind(ctx workflow.Context) {
	expires := w.view.Invite.ExpiresAt
	budget := min(w.in.Settings.StepRetryBudget, expires.Sub(workflow.Now(ctx)))
	actx := workflow.WithActivityOptions(ctx, w.withHeartbeat(regularActivityOptions(max(budget, time.Second))))
	w.invite.seq++
	var res activities.SendInvitationResult
	err := workflow.ExecuteActivity(actx, a.SendInvitation, activities.SendInvitationInput{
		SignupID: w.in.SignupID, Seq: w.invite.seq, Kind: signup.InvitationReminder, ExpiresAt: expires,
	}).Get(ctx, &res)
	w.view.Invite.Reminded = true
	if err != nil {
		w.log.Warn("reminder not sent", "error", err)
		w.saveOrLog(ctx, &signup.AuditEntry{Actor: systemActor, Action: signup.ActionReminderFailed, From: w.view.Status,
			To: w.view.Status, Detail: failureMessage(err)})
		return
	}
	if res.AlreadyActive {
		w.invite.passwordSet = true
	}
	w.saveOrLog(ctx, &signup.AuditEntry{Actor: systemActor, Action: signup.ActionReminderSent, From: w.view.Status, To: w.view.Status})
}

// expire ends the invitation's links; the owner then sets a password by a
// reset (reset_required).
func (w *signupWorkflow) expire(ctx workflow.Context) error {
	var res activities.ExpireResult
	err := w.attempt(ctx, "expire_invitation", func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(w.withRegularActivity(ctx), a.ExpireInvitation,
			activities.ExpireInput{SignupID: w.in.SignupID}).Get(ctx, &res)
	})
	if err != nil {
		return err
	}
	if res.AlreadyActive {
		w.invite.passwordSet = true
		return nil
	}
	w.transition(ctx, signup.StatusResetRequired, systemActor, signup.ActionInvitationExpired, "")
	return nil
}
