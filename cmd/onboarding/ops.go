package main

import "github.com/spf13/cobra"

func opsCmd() *cobra.Command {
	return &cobra.Command{Use: "ops", Short: "Operators' commands (list, show, retry, resend-invite, cancel)"}
}
