package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/ops"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/temporalconn"
)

// opsFlags are the flags every ops command shares.
type opsFlags struct {
	apiURL   string
	direct   bool
	json     bool
	operator string
	reason   string
}

// backend opens what the flags say ops talks to.
// withBackend runs call with the backend the flags choose (the admin API or
// Temporal), closing it afterwards.
func (f *opsFlags) withBackend(cmd *cobra.Command, call func(ops.Backend) error) error {
	b, done, err := app.OpsBackend(cmd.Context(), f.apiURL, f.direct)
	if err != nil {
		return err
	}
	defer done()
	return call(b)
}

func opsCmd() *cobra.Command {
	f := &opsFlags{}
	cmd := &cobra.Command{
		Use:   "ops",
		Short: "Operators' commands: list, show, retry, resend-invite, cancel, erase",
		Long: `ops finds and repairs sign-ups. By default it calls the admin API at --api
(ONBOARDING_API_URL, default http://localhost:8080) with ADMIN_TOKEN; with
--temporal it talks to the workflows through Temporal directly, for when the
API is down, with the workers' PAYLOAD_ENCRYPTION_KEYS and the same connection
settings as api and worker:

` + temporalconn.Help,
	}
	defaultAPI := os.Getenv("ONBOARDING_API_URL")
	if defaultAPI == "" {
		defaultAPI = "http://localhost:8080"
	}
	cmd.PersistentFlags().StringVar(&f.apiURL, "api", defaultAPI, "base URL of the onboarding API")
	cmd.PersistentFlags().BoolVar(&f.direct, "temporal", false, "talk to Temporal (TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TEMPORAL_TLS_*) instead of the API")
	cmd.PersistentFlags().BoolVar(&f.json, "json", false, "print JSON")
	cmd.AddCommand(opsListCmd(f), opsShowCmd(f),
		opsActionCmd(f, "retry", "Run the failed step of a needs_attention sign-up again", ops.Retry),
		opsActionCmd(f, "resend-invite", "Mail a new invitation link (the old one dies; the 7-day window restarts)", ops.ResendInvite),
		opsActionCmd(f, "cancel", "Cancel a sign-up (frees its name; disables what was provisioned); not after active", ops.Cancel),
		opsActionCmd(f, "erase", "Erase an abandoned or cancelled sign-up's personal data now (a person's request)", ops.Erase),
	)
	return cmd
}

func opsListCmd(f *opsFlags) *cobra.Command {
	var (
		status string
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List sign-ups, newest first (--status needs_attention finds the stuck ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.withBackend(cmd, func(b ops.Backend) error {
				views, err := b.List(cmd.Context(), status, limit)
				if err != nil {
					return err
				}
				if f.json {
					return ops.WriteJSON(os.Stdout, views)
				}
				return ops.WriteTable(os.Stdout, views)
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only sign-ups in this status")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many")
	return cmd
}

func opsShowCmd(f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show SIGNUP_ID",
		Short: "Show a sign-up with its last error and workflow id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withBackend(cmd, func(b ops.Backend) error {
				v, err := b.Show(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return ops.WriteJSON(os.Stdout, v)
			})
		},
	}
}

func opsActionCmd(f *opsFlags, use, short string, act ops.Action) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use + " SIGNUP_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withBackend(cmd, func(b ops.Backend) error {
				v, err := b.Do(cmd.Context(), args[0], act, signup.OperatorInput{Operator: f.operator, Reason: f.reason})
				if err != nil {
					return err
				}
				return ops.WriteJSON(os.Stdout, v)
			})
		},
	}
	cmd.Flags().StringVar(&f.operator, "operator", os.Getenv("USER"), "who is acting, for the audit trail")
	cmd.Flags().StringVar(&f.reason, "reason", "", "why, for the audit trail")
	return cmd
}
