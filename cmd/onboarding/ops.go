package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/ops"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/temporalconn"
)

func opsCmd() *cobra.Command {
	var (
		apiURL     string
		direct     bool
		operator   string
		reason     string
		jsonOutput bool
	)
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
	cmd.PersistentFlags().StringVar(&apiURL, "api", defaultAPI, "base URL of the onboarding API")
	cmd.PersistentFlags().BoolVar(&direct, "temporal", false, "talk to Temporal (TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TEMPORAL_TLS_*) instead of the API")
	cmd.PersistentFlags().BoolVar(&jsonOutput, "json", false, "print JSON")

	backend := func(cmd *cobra.Command) (ops.Backend, func(), error) {
		cfg, err := config.Load(config.ModeOps)
		if err != nil {
			return nil, nil, err
		}
		if !direct {
			if cfg.AdminToken == "" {
				return nil, nil, fmt.Errorf("set ADMIN_TOKEN (or use --temporal)")
			}
			return &ops.API{BaseURL: apiURL, Token: cfg.AdminToken}, func() {}, nil
		}
		rt, err := app.New(cmd.Context(), cfg, config.ModeOps)
		if err != nil {
			return nil, nil, err
		}
		c, err := rt.Dial(cmd.Context(), 5*time.Second)
		if err != nil {
			rt.Close()
			return nil, nil, err
		}
		return &ops.Temporal{Client: c, TaskQueue: cfg.TemporalTaskQueue}, func() { c.Close(); rt.Close() }, nil
	}
	printJSON := func(v any) error {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}

	var status string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List sign-ups, newest first (--status needs_attention finds the stuck ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, done, err := backend(cmd)
			if err != nil {
				return err
			}
			defer done()
			views, err := b.List(cmd.Context(), status, limit)
			if err != nil {
				return err
			}
			if jsonOutput {
				return printJSON(views)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SIGNUP ID\tSTATUS\tORGANIZATION\tUPDATED\tLAST ERROR")
			for _, v := range views {
				org, lastErr := "-", "-"
				if v.Organization != nil {
					org = v.Organization.OrganizationName
				}
				if v.LastError != nil {
					lastErr = *v.LastError
					if len(lastErr) > 60 {
						lastErr = lastErr[:60] + "…"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.SignupID, v.Status, org, v.UpdatedAt.Format(time.RFC3339), lastErr)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "", "only sign-ups in this status")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")

	show := &cobra.Command{
		Use:   "show SIGNUP_ID",
		Short: "Show a sign-up with its last error and workflow id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, done, err := backend(cmd)
			if err != nil {
				return err
			}
			defer done()
			v, err := b.Show(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(v)
		},
	}
	action := func(use, short string, act ops.Action) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " SIGNUP_ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				b, done, err := backend(cmd)
				if err != nil {
					return err
				}
				defer done()
				v, err := b.Do(cmd.Context(), args[0], act, signup.OperatorInput{Operator: operator, Reason: reason})
				if err != nil {
					return err
				}
				return printJSON(v)
			},
		}
		c.Flags().StringVar(&operator, "operator", os.Getenv("USER"), "who is acting, for the audit trail")
		c.Flags().StringVar(&reason, "reason", "", "why, for the audit trail")
		return c
	}
	cmd.AddCommand(list, show,
		action("retry", "Run the failed step of a needs_attention sign-up again", ops.Retry),
		action("resend-invite", "Mail a new invitation link (the old one dies; the 7-day window restarts)", ops.ResendInvite),
		action("cancel", "Cancel a sign-up (frees its name; disables what was provisioned); not after active", ops.Cancel),
		action("erase", "Erase an abandoned or cancelled sign-up's personal data now (a person's request)", ops.Erase),
	)
	return cmd
}
