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
// converter), a plain error's text is not repeated behind the step. Once
// the activity's own context has ended its error is passed on as it is; a
// step's error that wraps a context error of its own still names the step.
func TestInStep(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		step    string // StepOf, as the workflow reads it
		message string // the error's text, as the workflow reads it ("": the SDK's own)
		passed  bool   // err itself is returned
	}{
		{"plain error", context.Background(), fmt.Errorf("provision: %w", errors.New("database is locked")), StepProvision,
			"provision: database is locked", false},
		{"application error", context.Background(), temporal.NewNonRetryableApplicationError("the name is taken", "organization_name_taken", nil), StepProvision,
			"the name is taken (type: organization_name_taken, retryable: false)", false},
		{"a connection's own timeout", context.Background(), fmt.Errorf("provision: connect: %w", context.DeadlineExceeded), StepProvision,
			"provision: connect: context deadline exceeded", false},
		{"the activity cancelled", ended, fmt.Errorf("provision: %w", context.Canceled), "", "", true},
	}
	fc := temporal.GetDefaultFailureConverter()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := inStep(tt.ctx, StepProvision, tt.err)
			if got := err == tt.err; got != tt.passed {
				t.Errorf("passed on as it is: %v, want %v (%v)", got, tt.passed, err)
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
