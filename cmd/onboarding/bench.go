package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/kcloud/onboarding/internal/bench"
	"github.com/kcloud/onboarding/internal/temporalconn"
)

const benchHelp = `bench drives N concurrent simulated front ends through the whole journey over HTTP
(terms, certificate, Verify, user information, Check, organization, submit, the
invitation from GET /dev/mailbox, the password, sign-in) against a running stack,
for a count or a duration, and prints completed sign-ups per second, per-step
latency (p50/p95/p99/max), errors by code, failed sign-ups by reason, and the
CPU and peak memory of the server processes given with --pids. A sign-up whose
invitation is not in the mailbox within --mail-wait counts as failed
(invitation_mail: not_received), as when SMTP_HOST sends the mail elsewhere.

With --ceiling it then runs the same-shape no-op workflow (as many Updates,
activities and timers; no database, mail or validation) through the same Temporal
server (--temporal), and the engine's plain cost (--engine N empty workflows), and
reports the ratio. --sweep 1,5,10,20 repeats the run at each concurrency and
--svg draws latency and throughput against concurrency.

With --ceiling and --pids it prints the CPU per sign-up beside the no-op's, with
and without the two password hashes (their CPU measured in this process with
the service's argon2id parameters), and their ratio. After each run it reads
--history completed sign-ups' workflow histories and prints the events per
sign-up by type.`

func benchCmd() *cobra.Command {
	var (
		o                           bench.Options
		think, pids, jsonOut, sweep string
		svgOut, temporalAddr, ns    string
		ceiling                     bool
		engineN, histories          int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load generator: simulated people through the whole sign-up, beside the engine's ceiling",
		Long:  benchHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.ThinkMin, o.ThinkMax, err = bench.ParseThink(think); err != nil {
				return err
			}
			if o.PIDs, err = bench.ParseInts(pids, "--pids"); err != nil {
				return err
			}
			levels, err := bench.ParseInts(sweep, "--sweep")
			if err != nil {
				return err
			}
			o.Progress = os.Stderr
			plan := bench.Plan{Options: o, Levels: levels, Ceiling: ceiling, Engine: engineN, Histories: histories,
				JSONPath: jsonOut, SVGPath: svgOut, SVGTitle: fmt.Sprintf("Wizard step latency and throughput (think %s)", think),
				Command: strings.Join(os.Args, " ")}
			var c client.Client
			if ceiling || engineN > 0 || histories > 0 {
				if c, err = benchTemporal(cmd, temporalAddr, ns, ceiling || engineN > 0 || cmd.Flags().Changed("history")); err != nil {
					return err
				}
				if c != nil {
					defer c.Close()
				}
			}
			_, err = plan.Execute(cmd.Context(), c, os.Stdout, os.Stderr)
			return err
		},
	}
	cmd.AddCommand(parkCmd())
	f := cmd.Flags()
	f.StringVar(&o.BaseURL, "url", "http://localhost:8080", "the onboarding API")
	f.StringVar(&o.MailboxURL, "mailbox-url", "", "where GET /dev/mailbox answers (default: --url)")
	f.IntVarP(&o.Concurrency, "concurrency", "c", 20, "simulated people at once")
	f.IntVarP(&o.Count, "count", "n", 100, "sign-ups in all (0: run for --duration)")
	f.DurationVar(&o.Duration, "duration", 0, "how long to run when --count is 0")
	f.StringVar(&think, "think", "1s-3s", "pause between steps: 0, 2s, or 1s-3s")
	f.BoolVar(&o.Park, "park", false, "stop each sign-up once invited (parks waiting sign-ups)")
	f.StringVar(&pids, "pids", "", "server process ids to sample for CPU and memory, comma-separated")
	f.StringSliceVar(&o.MetricsURLs, "metrics", nil, "Prometheus endpoints of the servers, to count database statements (default: --url/metrics)")
	f.StringVar(&jsonOut, "json", "", "write the results as JSON to this file")
	f.StringVar(&sweep, "sweep", "", "concurrency levels to run in turn, e.g. 1,5,10,20")
	f.StringVar(&svgOut, "svg", "", "with --sweep: draw latency and throughput against concurrency")
	f.BoolVar(&ceiling, "ceiling", false, "also run the same-shape no-op workflow through the same Temporal server")
	f.IntVar(&histories, "history", 20, "read this many completed sign-ups' workflow histories after each run and print their events by type (0: none; needs Temporal as --ceiling does)")
	f.IntVar(&engineN, "engine", 0, "also start and complete this many empty workflows (the engine's plain cost)")
	f.StringVar(&temporalAddr, "temporal", "", "Temporal frontend for --ceiling and --engine (default: TEMPORAL_ADDRESS or the profile's, else 127.0.0.1:7233; TLS and API key from TEMPORAL_*)")
	f.StringVar(&ns, "namespace", "", "Temporal namespace (default: TEMPORAL_NAMESPACE or the profile's, else default)")
	f.DurationVar(&o.MailWait, "mail-wait", bench.DefaultMailWait, "give a sign-up up as failed (invitation_mail: not_received) when its invitation is not in GET /dev/mailbox this long after submit")
	f.IntVar(&o.Pollers, "pollers", 8, "workflow-task pollers of the no-op worker (match the service's WORKER_POLLERS)")
	return cmd
}

// benchTemporal dials Temporal with the same settings as api and worker
// (TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles), --temporal
// and --namespace first. Unless required, an unreachable server only costs
// the history counts (nil client).
func benchTemporal(cmd *cobra.Command, addr, ns string, required bool) (client.Client, error) {
	ts, err := temporalconn.Load(nil)
	if err != nil {
		return nil, err
	}
	if cmd.Flags().Changed("temporal") {
		ts.Options.HostPort = addr
	}
	if cmd.Flags().Changed("namespace") {
		ts.Options.Namespace = ns
	}
	opts := ts.Options
	opts.Logger = quietLogger{}
	c, err := temporalconn.Dial(cmd.Context(), ts, opts, 10*time.Second, slog.New(slog.DiscardHandler))
	if err != nil && !required {
		fmt.Fprintf(os.Stderr, "no history events per sign-up: Temporal at %s: %v\n", ts.Options.HostPort, err)
		return nil, nil
	}
	return c, err
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
