package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/app"
)

// mailboxCmd runs only dev mode's SMTP capture server, with its HTTP
// listing, as its own process.
func mailboxCmd() *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "mailbox",
		Short: "Run only the SMTP capture server (DEV_SMTP_ADDR) and GET /dev/mailbox on --http",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.RunMailbox(cmd.Context(), httpAddr, os.Stderr)
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8025", "where to serve GET /dev/mailbox")
	return cmd
}
