package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/kcloud/onboarding/internal/bench"
	"github.com/kcloud/onboarding/internal/password"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/temporalconn"
)

type benchReport struct {
	Machine string          `json:"machine"`
	Command string          `json:"command"`
	When    time.Time       `json:"when"`
	Runs    []*bench.Result `json:"runs"`
	Ceiling []*bench.Result `json:"ceiling,omitempty"`
	Engine  *bench.Result   `json:"engine,omitempty"`
	// Ratio is completed sign-ups per second over the no-op ceiling's, run
	// for run.
	Ratio []float64 `json:"ratio_to_ceiling,omitempty"`
	// Cost is the CPU per sign-up with and without the password hashes
	// beside the no-op's, run for run (with --ceiling and --pids).
	Cost   []bench.Cost   `json:"cpu_per_signup,omitempty"`
	Hashes *bench.HashCPU `json:"password_hashes,omitempty"`
}

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
		Long: `bench drives N concurrent simulated front ends through the whole journey over HTTP
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
sign-up by type.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var err error
			if o.ThinkMin, o.ThinkMax, err = parseThink(think); err != nil {
				return err
			}
			for _, p := range strings.Split(pids, ",") {
				if p = strings.TrimSpace(p); p != "" {
					n, err := strconv.Atoi(p)
					if err != nil {
						return fmt.Errorf("--pids: %q is not a process id", p)
					}
					o.PIDs = append(o.PIDs, n)
				}
			}
			levels := []int{o.Concurrency}
			if sweep != "" {
				levels = nil
				for _, s := range strings.Split(sweep, ",") {
					n, err := strconv.Atoi(strings.TrimSpace(s))
					if err != nil || n < 1 {
						return fmt.Errorf("--sweep: %q is not a concurrency", s)
					}
					levels = append(levels, n)
				}
			}
			o.Progress = os.Stderr
			report := benchReport{Machine: machine(), Command: strings.Join(os.Args, " "), When: time.Now().UTC()}
			var c client.Client
			if ceiling || engineN > 0 || histories > 0 {
				// The same connection settings as api and worker
				// (TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles).
				ts, err := temporalconn.Load(nil)
				if err != nil {
					return err
				}
				if cmd.Flags().Changed("temporal") {
					ts.Options.HostPort = temporalAddr
				}
				if cmd.Flags().Changed("namespace") {
					ts.Options.Namespace = ns
				}
				opts := ts.Options
				opts.Logger = quietLogger{}
				c, err = temporalconn.Dial(ctx, ts, opts, 10*time.Second, slog.New(slog.DiscardHandler))
				switch {
				case err != nil && (ceiling || engineN > 0 || cmd.Flags().Changed("history")):
					return err
				case err != nil:
					fmt.Fprintf(os.Stderr, "no history events per sign-up: Temporal at %s: %v\n", ts.Options.HostPort, err)
					c = nil
				default:
					defer c.Close()
				}
			}
			var hashes *bench.HashCPU
			for _, level := range levels {
				run := o
				run.Concurrency = level
				run.RunID = strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
				res, err := bench.Run(ctx, run)
				if err != nil {
					return err
				}
				bench.Print(os.Stdout, res)
				report.Runs = append(report.Runs, res)
				if c != nil && histories > 0 && len(res.SignupIDs) > 0 {
					var ids []string
					for _, id := range bench.Sample(res.SignupIDs, histories) {
						ids = append(ids, signup.WorkflowID(id))
					}
					if res.History, err = bench.SampleHistories(ctx, c, ids); err != nil {
						return err
					}
					bench.PrintHistories(os.Stdout, res.History)
				}
				if ceiling {
					cres, err := bench.Ceiling(ctx, c, run)
					if err != nil {
						return err
					}
					bench.Print(os.Stdout, cres)
					report.Ceiling = append(report.Ceiling, cres)
					ratio := 0.0
					if cres.PerSecond > 0 {
						ratio = res.PerSecond / cres.PerSecond
					}
					report.Ratio = append(report.Ratio, ratio)
					fmt.Printf("\nratio at concurrency %d: %.2f sign-ups/s ÷ %.2f no-op/s = %.0f%% of the ceiling\n", level, res.PerSecond, cres.PerSecond, 100*ratio)
					if len(o.PIDs) == 0 {
						fmt.Println("CPU per sign-up: give the server's process ids with --pids")
						continue
					}
					if hashes == nil {
						// Between runs, while this process is idle.
						h, err := bench.MeasureHashes(password.DefaultParams, 5)
						if err != nil {
							return err
						}
						hashes = &h
						report.Hashes = hashes
					}
					if cost, ok := bench.CostOf(res, cres, *hashes); ok {
						bench.PrintCost(os.Stdout, cost)
						report.Cost = append(report.Cost, cost)
					}
				}
			}
			if engineN > 0 {
				eo := o
				eo.Concurrency = max(o.Concurrency, 20)
				eo.RunID = strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
				eres, err := bench.Engine(ctx, c, eo, engineN)
				if err != nil {
					return err
				}
				bench.Print(os.Stdout, eres)
				report.Engine = eres
			}
			if jsonOut != "" {
				b, _ := json.MarshalIndent(report, "", "  ")
				if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
					return err
				}
				fmt.Fprintln(os.Stderr, "wrote", jsonOut)
			}
			if svgOut != "" {
				f, err := os.Create(svgOut)
				if err != nil {
					return err
				}
				title := fmt.Sprintf("Wizard step latency and throughput (think %s)", think)
				if err := bench.PlotSVG(f, title, report.Runs); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintln(os.Stderr, "wrote", svgOut)
			}
			return nil
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

func parseThink(s string) (time.Duration, time.Duration, error) {
	lo, hi, ok := strings.Cut(s, "-")
	a, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil && strings.TrimSpace(lo) == "0" {
		a, err = 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("--think %q: %w", s, err)
	}
	if !ok {
		return a, a, nil
	}
	b, err := time.ParseDuration(strings.TrimSpace(hi))
	if err != nil || b < a {
		return 0, 0, fmt.Errorf("--think %q: want min-max", s)
	}
	return a, b, nil
}

func machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model, cores := "", 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") && model == "" {
			_, model, _ = strings.Cut(line, ":")
		}
		if strings.HasPrefix(line, "processor") {
			cores++
		}
	}
	return fmt.Sprintf("%d cores, %s", cores, strings.TrimSpace(model))
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
