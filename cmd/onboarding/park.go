package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcloud/onboarding/internal/bench"
	"github.com/kcloud/onboarding/internal/park"
)

func parkCmd() *cobra.Command {
	var (
		o       park.Options
		count   int
		at      string
		jsonOut string
	)
	cmd := &cobra.Command{
		Use:   "park",
		Short: "Park sign-ups in invited and measure worker memory and database bytes per waiting sign-up",
		Long: `park starts the service as separate processes (onboarding temporal, mailbox, api,
worker) in --dir, drives sign-ups up to "invited" (each then waits on its 7-day
timer), and at each count in --at reports the worker's resident memory and heap,
its sticky cache, and the bytes of the Temporal and application databases per
waiting sign-up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Marks, err = park.ParseMarks(at); err != nil {
				return err
			}
			count = max(count, o.Marks[len(o.Marks)-1])
			o.Progress, o.Out = os.Stderr, os.Stdout
			results, err := park.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			park.Summary(os.Stdout, results)
			if jsonOut == "" {
				return nil
			}
			return park.WriteReport(jsonOut, bench.Machine(), strings.Join(os.Args, " "), results)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&count, "count", "n", 10000, "sign-ups to park in all")
	f.StringVar(&at, "at", "1000,10000", "counts at which to measure")
	f.IntVarP(&o.Concurrency, "concurrency", "c", 20, "simulated people at once")
	f.StringVar(&o.Dir, "dir", "", "state directory (default: a new temporary one)")
	f.StringVar(&o.DatabaseURL, "database-url", "", "application database (default: SQLite in --dir)")
	f.StringVar(&jsonOut, "json", "", "write the checkpoints as JSON")
	f.StringVar(&o.WorkerCache, "worker-cache", "1000", "the worker's WORKER_CACHE_SIZE")
	return cmd
}
