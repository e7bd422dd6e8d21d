package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kcloud/onboarding/internal/password"
	"github.com/kcloud/onboarding/internal/signup"
)

// Report is what `onboarding bench --json` writes: every run of one
// invocation with the machine and the command that made it.
type Report struct {
	Machine string    `json:"machine"`
	Command string    `json:"command"`
	When    time.Time `json:"when"`
	Runs    []*Result `json:"runs"`
	Ceiling []*Result `json:"ceiling,omitempty"`
	Engine  *Result   `json:"engine,omitempty"`
	// Ratio is completed sign-ups per second over the no-op ceiling's, run
	// for run.
	Ratio []float64 `json:"ratio_to_ceiling,omitempty"`
	// Cost is the CPU per sign-up with and without the password hashes
	// beside the no-op's, run for run (with a ceiling and PIDs).
	Cost   []Cost   `json:"cpu_per_signup,omitempty"`
	Hashes *HashCPU `json:"password_hashes,omitempty"`
}

// Plan is one invocation of `onboarding bench`: a run at each concurrency
// level, each optionally followed by its histories and the no-op ceiling,
// then the engine's plain cost, and the files to write.
type Plan struct {
	Options   Options
	Levels    []int // concurrency levels in turn (Options.Concurrency when empty)
	Ceiling   bool  // the same-shape no-op after each run
	Engine    int   // empty workflows after the runs (0: none)
	Histories int   // completed sign-ups' histories read after each run
	JSONPath  string
	SVGPath   string
	SVGTitle  string
	Command   string // as typed, for the report
}

// Execute runs the plan, printing to out and saying what it wrote to
// status. c is the Temporal client for the ceiling, the engine and the
// histories (nil: none of them).
func (p Plan) Execute(ctx context.Context, c client.Client, out, status io.Writer) (*Report, error) {
	report := &Report{Machine: Machine(), Command: p.Command, When: time.Now().UTC()}
	levels := p.Levels
	if len(levels) == 0 {
		levels = []int{p.Options.Concurrency}
	}
	for _, level := range levels {
		if err := p.runLevel(ctx, c, level, report, out); err != nil {
			return report, err
		}
	}
	if p.Engine > 0 {
		eo := p.Options
		eo.Concurrency = max(p.Options.Concurrency, 20)
		eo.RunID = strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
		eres, err := Engine(ctx, c, eo, p.Engine)
		if err != nil {
			return report, err
		}
		Print(out, eres)
		report.Engine = eres
	}
	return report, p.write(report, status)
}

// runLevel is one run at a concurrency, its histories and its ceiling.
func (p Plan) runLevel(ctx context.Context, c client.Client, level int, report *Report, out io.Writer) error {
	run := p.Options
	run.Concurrency = level
	run.RunID = strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	res, err := Run(ctx, run)
	if err != nil {
		return err
	}
	Print(out, res)
	report.Runs = append(report.Runs, res)
	if c != nil && p.Histories > 0 && len(res.SignupIDs) > 0 {
		var ids []string
		for _, id := range Sample(res.SignupIDs, p.Histories) {
			ids = append(ids, signup.WorkflowID(id))
		}
		if res.History, err = SampleHistories(ctx, c, ids); err != nil {
			return err
		}
		PrintHistories(out, res.History)
	}
	if !p.Ceiling {
		return nil
	}
	cres, err := Ceiling(ctx, c, run)
	if err != nil {
		return err
	}
	Print(out, cres)
	report.Ceiling = append(report.Ceiling, cres)
	ratio := 0.0
	if cres.PerSecond > 0 {
		ratio = res.PerSecond / cres.PerSecond
	}
	report.Ratio = append(report.Ratio, ratio)
	fmt.Fprintf(out, "\nratio at concurrency %d: %.2f sign-ups/s ÷ %.2f no-op/s = %.0f%% of the ceiling\n", level, res.PerSecond, cres.PerSecond, 100*ratio)
	if len(p.Options.PIDs) == 0 {
		fmt.Fprintln(out, "CPU per sign-up: give the server's process ids with --pids")
		return nil
	}
	if report.Hashes == nil {
		// Between runs, while this process is idle.
		h, err := MeasureHashes(password.DefaultParams, 5)
		if err != nil {
			return err
		}
		report.Hashes = &h
	}
	if cost, ok := CostOf(res, cres, *report.Hashes); ok {
		PrintCost(out, cost)
		report.Cost = append(report.Cost, cost)
	}
	return nil
}

// write writes the JSON report and the SVG plot the plan asks for.
func (p Plan) write(report *Report, status io.Writer) error {
	if p.JSONPath != "" {
		b, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(p.JSONPath, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(status, "wrote", p.JSONPath)
	}
	if p.SVGPath == "" {
		return nil
	}
	f, err := os.Create(p.SVGPath)
	if err != nil {
		return err
	}
	if err := PlotSVG(f, p.SVGTitle, report.Runs); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(status, "wrote", p.SVGPath)
	return nil
}

// Machine names this machine's processor and its cores, for reports.
func Machine() string {
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

// ParseThink reads --think: 0, 2s, or a range 1s-3s.
func ParseThink(s string) (time.Duration, time.Duration, error) {
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

// ParseInts reads a comma-separated list of positive integers (--pids,
// --sweep); what names the flag in the error.
func ParseInts(s, what string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive number", what, f)
		}
		out = append(out, n)
	}
	return out, nil
}
