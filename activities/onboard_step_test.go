package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
)

// A failure of ProvisionAndInvite names its half once, in its details, and
// says what went wrong once: as the workflow reads it (through the failure
// converter), a plain error's text is not repeated behind the step. The
// activity's own end stays what it is.
func TestInStep(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		step     string // StepOf, as the workflow reads it
		message  string // the error's text, as the workflow reads it ("": the SDK's own)
		canceled bool
	}{
		{"plain error", fmt.Errorf("provision: %w", errors.New("database is locked")), StepProvision,
			"provision: database is locked", false},
		{"application error", temporal.NewNonRetryableApplicationError("the name is taken", "organization_name_taken", nil), StepProvision,
			"the name is taken (type: organization_name_taken, retryable: false)", false},
		{"cancelled", fmt.Errorf("provision: %w", context.Canceled), "", "", true},
		{"past its deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), "", "", false},
	}
	fc := temporal.GetDefaultFailureConverter()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := inStep(StepProvision, tt.err)
			if got := errors.Is(err, context.Canceled); got != tt.canceled {
				t.Errorf("errors.Is(context.Canceled) = %v, want %v", got, tt.canceled)
			}
			read := fc.FailureToError(fc.ErrorToFailure(err))
			if got := StepOf(read); got != tt.step {
				t.Errorf("step %q, want %q", got, tt.step)
			}
			if got := read.Error(); tt.message != "" && got != tt.message {
				t.Errorf("message %q, want %q", got, tt.message)
			}
			if strings.Contains(read.Error(), "provision: provision") {
				t.Errorf("the step repeated: %q", read.Error())
			}
		})
	}
}
