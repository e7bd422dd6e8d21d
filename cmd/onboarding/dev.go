//go:build !lean

package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/devmode"
)

func devCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: Temporal server and UI, SMTP capture, worker and API",
		Long: `dev runs an embedded Temporal server (state in DATA_DIR/temporal.db), its Web UI,
an SMTP capture server (mail kept in DATA_DIR/mailbox.jsonl, shown at /dev/mailbox),
the application database (SQLite in DATA_DIR unless DATABASE_URL says otherwise),
the worker and the API. Stop it with Ctrl-C; start it again on the same DATA_DIR
and every sign-up and timer carries on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return devmode.Run(cmd.Context(), os.Stderr) },
	}
}
