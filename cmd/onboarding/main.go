// Command onboarding runs the organization sign-up service.
//
//	onboarding dev       everything in one process (embedded Temporal, UI, SMTP capture, SQLite)
//	onboarding api       the HTTP API (production role)
//	onboarding worker    the Temporal worker (production role)
//	onboarding migrate   apply the database migrations
//	onboarding ops …     operators' commands: list, show, retry, resend-invite, cancel
//	onboarding keygen    a payload encryption key
//	onboarding bench     the load generator
//	onboarding temporal  only the embedded Temporal server (for multi-process set-ups)
//	onboarding mailbox   only the SMTP capture server
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "onboarding",
		Short:         "Sign businesses up for a cloud organization, durably",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(devCmd(), apiCmd(), workerCmd(), migrateCmd(), opsCmd(), keygenCmd(), benchCmd(), temporalCmd(), mailboxCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "onboarding:", err)
		os.Exit(1)
	}
}
