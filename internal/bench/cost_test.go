package bench

import (
	"math"
	"strings"
	"testing"

	"github.com/kcloud/onboarding/internal/password"
)

func TestCostOf(t *testing.T) {
	hashes := HashCPU{Memory: 19456, Time: 2, Threads: 1, Samples: 5, HashS: 0.026, VerifyS: 0.024, PerSignupS: 0.050}
	procs := func(cpu ...float64) []Process {
		var ps []Process
		for i, c := range cpu {
			ps = append(ps, Process{PID: 100 + i, CPUSeconds: c})
		}
		return ps
	}
	for _, tc := range []struct {
		name       string
		signup     *Result
		noop       *Result
		ok         bool
		perSignup  float64
		without    float64
		noopServer float64
		noopWorker float64
		ratio      float64
		serverOnly float64
	}{
		{
			name:   "one server process",
			signup: &Result{Concurrency: 20, Completed: 300, Processes: procs(51)},
			noop:   &Result{Completed: 300, Processes: procs(12), LocalCPUSeconds: 6},
			ok:     true, perSignup: 0.170, without: 0.120, noopServer: 0.040, noopWorker: 0.020, ratio: 2.0, serverOnly: 3.0,
		},
		{
			name:   "CPU of several processes adds up",
			signup: &Result{Completed: 100, Processes: procs(6, 4, 3)},
			noop:   &Result{Completed: 200, Processes: procs(4, 1, 1), LocalCPUSeconds: 2},
			ok:     true, perSignup: 0.130, without: 0.080, noopServer: 0.030, noopWorker: 0.010, ratio: 2.0, serverOnly: 0.08 / 0.03,
		},
		{name: "no --pids", signup: &Result{Completed: 100}, noop: &Result{Completed: 100, LocalCPUSeconds: 1}},
		{name: "nothing completed", signup: &Result{Processes: procs(5)}, noop: &Result{Completed: 100, Processes: procs(1)}},
		{name: "no no-op", signup: &Result{Completed: 100, Processes: procs(5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := CostOf(tc.signup, tc.noop, hashes)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"per sign-up", c.Signup, tc.perSignup},
				{"hashes", c.Hashes, hashes.PerSignupS},
				{"without hashes", c.WithoutHashes, tc.without},
				{"no-op server", c.NoopServer, tc.noopServer},
				{"no-op worker", c.NoopWorker, tc.noopWorker},
				{"ratio", c.Ratio, tc.ratio},
				{"ratio server only", c.RatioServerOnly, tc.serverOnly},
			} {
				if math.Abs(f.got-f.want) > 1e-9 {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
			var b strings.Builder
			PrintCost(&b, c)
			for _, want := range []string{"without the hashes", "method:", "1 Hash + 1 Verify per sign-up", "m=19456 KiB, t=2, p=1"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}

// The hash CPU is measured, not assumed: the service's parameters cost far
// more than a cheap setting, and a sign-up's share is one Hash and one
// Verify.
func TestMeasureHashes(t *testing.T) {
	cheap, err := MeasureHashes(password.Params{Memory: 512, Time: 1, Threads: 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	service, err := MeasureHashes(password.DefaultParams, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		h    HashCPU
		p    password.Params
	}{{"cheap", cheap, password.Params{Memory: 512, Time: 1, Threads: 1}}, {"service", service, password.DefaultParams}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.h.Memory != tc.p.Memory || tc.h.Time != tc.p.Time || tc.h.Threads != tc.p.Threads || tc.h.Samples != 3 {
				t.Fatalf("parameters %+v, want %+v and 3 samples", tc.h, tc.p)
			}
			if math.Abs(tc.h.PerSignupS-(tc.h.HashS+tc.h.VerifyS)) > 1e-12 {
				t.Fatalf("per sign-up %v, want hash %v + verify %v", tc.h.PerSignupS, tc.h.HashS, tc.h.VerifyS)
			}
		})
	}
	t.Logf("argon2id CPU per call: service %.1f / %.1f ms (hash / verify), cheap %.2f / %.2f ms", 1000*service.HashS, 1000*service.VerifyS, 1000*cheap.HashS, 1000*cheap.VerifyS)
	// 19 MiB × 2 passes is 76 times the cheap setting's work; CPU time, not
	// wall time, so a busy machine does not blur it.
	if service.HashS < 0.002 || service.VerifyS < 0.002 {
		t.Fatalf("argon2id at %+v measured %v / %v s of CPU: too little to be the hash", password.DefaultParams, service.HashS, service.VerifyS)
	}
	if service.PerSignupS < 5*cheap.PerSignupS {
		t.Fatalf("service parameters %v s, cheap %v s: the measure does not follow the work", service.PerSignupS, cheap.PerSignupS)
	}
}
