//go:build lean

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// The lean build (go build -tags lean, the production image) leaves out the
// embedded Temporal server and its Web UI: dev and temporal are the only
// commands that link them, and here they only say so.
var errLean = errors.New("built with -tags lean: use the full build for dev (go run ./cmd/onboarding dev)")

func devCmd() *cobra.Command { return leanCmd("dev") }

func temporalCmd() *cobra.Command { return leanCmd("temporal") }

func leanCmd(use string) *cobra.Command {
	return &cobra.Command{
		Use:    use,
		Short:  "Not in this build (-tags lean): the embedded Temporal server is left out",
		Hidden: true,
		Args:   cobra.ArbitraryArgs,
		// Flags of the full build's command are accepted and ignored, so the
		// answer is always this error, never "unknown flag".
		DisableFlagParsing: true,
		RunE:               func(*cobra.Command, []string) error { return errLean },
	}
}
