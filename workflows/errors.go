package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/kcloud/onboarding/internal/signup"
)

// stepError is a refusal of a step, carried to the API as an application
// error whose type is the contract's code.
func stepError(code, msg string, fields signup.Fields) error {
	opts := temporal.ApplicationErrorOptions{NonRetryable: true}
	if len(fields) > 0 {
		opts.Details = []any{fields}
	}
	return temporal.NewApplicationErrorWithOptions(msg, code, opts)
}

func outOfOrder(st signup.Status) error {
	return stepError(signup.CodeStepOutOfOrder, "this step is not possible while the sign-up is "+string(st), nil)
}

// passOn returns an activity's application error as the step's error, with
// the activity wrapping taken off so the API sees the contract's code.
func passOn(err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() != "" {
		return stepError(app.Type(), app.Message(), nil)
	}
	return err
}

// failureMessage is the innermost message of an activity failure.
func failureMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msg := app.Error()
		if t := app.Type(); t != "" && t != "wrapError" {
			return t + ": " + msg
		}
		return msg
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "retry budget used up: " + err.Error()
	}
	return err.Error()
}
