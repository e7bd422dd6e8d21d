package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/internal/account"
)

// PasswordReset mails a reset link when the account exists. It runs apart
// from the HTTP request so that the answer (202) and its timing say nothing
// about which accounts exist.
func PasswordReset(ctx workflow.Context, in account.PasswordResetRequest) error {
	ctx = workflow.WithActivityOptions(ctx, regularActivityOptions(time.Hour))
	return workflow.ExecuteActivity(ctx, a.SendPasswordReset, in).Get(ctx, nil)
}
