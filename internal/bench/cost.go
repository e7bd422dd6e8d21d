package bench

import (
	"fmt"
	"io"
	"runtime"
	"syscall"
	"time"

	"github.com/kcloud/onboarding/internal/password"
)

// A sign-up hashes its password twice: once when the owner sets it through
// the invitation (password.Hasher.Hash, POST /invitations/{token}/accept)
// and once when signing in (password.Hasher.Verify, POST /console/sessions).
const (
	HashesPerSignup   = 1
	VerifiesPerSignup = 1
)

// HashCPU is what the password hashes of one sign-up cost in CPU, measured
// in this process with the service's parameters.
type HashCPU struct {
	Memory  uint32  `json:"memory_kib"`
	Time    uint32  `json:"time"`
	Threads uint8   `json:"threads"`
	Samples int     `json:"samples"`
	HashS   float64 `json:"hash_cpu_s"`   // one Hash, garbage collection included
	VerifyS float64 `json:"verify_cpu_s"` // one Verify
	// PerSignupS is HashesPerSignup Hashes and VerifiesPerSignup Verifies.
	PerSignupS float64 `json:"per_signup_cpu_s"`
}

// MeasureHashes times n Hashes and n Verifies with p in this process, by
// the process's CPU time (getrusage), so the collection of each 19 MiB
// block counts as it does in the server. Run it while the process is idle.
func MeasureHashes(p password.Params, n int) (HashCPU, error) {
	if n < 1 {
		n = 1
	}
	h := password.NewHasher(p)
	runtime.GC()
	t0 := processCPU()
	var enc string
	for i := 0; i < n; i++ {
		var err error
		if enc, err = h.Hash(fmt.Sprintf("Bench!Pass%02d", i)); err != nil {
			return HashCPU{}, err
		}
	}
	runtime.GC()
	t1 := processCPU()
	for i := 0; i < n; i++ {
		if _, err := h.Verify(enc, "Bench!Pass00"); err != nil {
			return HashCPU{}, err
		}
	}
	runtime.GC()
	t2 := processCPU()
	hc := HashCPU{Memory: p.Memory, Time: p.Time, Threads: p.Threads, Samples: n,
		HashS: (t1 - t0).Seconds() / float64(n), VerifyS: (t2 - t1).Seconds() / float64(n)}
	hc.PerSignupS = HashesPerSignup*hc.HashS + VerifiesPerSignup*hc.VerifyS
	return hc, nil
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Cost is the CPU a completed sign-up costs beside the same-shape no-op's,
// in CPU seconds per completed journey.
type Cost struct {
	Concurrency int `json:"concurrency"`
	// Signup is the --pids processes' CPU (onboarding dev: the Temporal
	// server, API and worker) per completed sign-up.
	Signup float64 `json:"signup_cpu_s"`
	// Hashes is the measured CPU of a sign-up's password hashes, and
	// WithoutHashes Signup less that.
	Hashes        float64 `json:"hashes_cpu_s"`
	WithoutHashes float64 `json:"without_hashes_cpu_s"`
	// NoopServer is the --pids processes' CPU per no-op journey (the
	// Temporal server; the API and worker idle), NoopWorker this process's:
	// the no-op's worker and the client that drives it.
	NoopServer float64 `json:"noop_server_cpu_s"`
	NoopWorker float64 `json:"noop_worker_cpu_s"`
	// Ratio is WithoutHashes ÷ (NoopServer + NoopWorker); RatioServerOnly
	// WithoutHashes ÷ NoopServer (the no-op without its worker).
	Ratio           float64 `json:"ratio"`
	RatioServerOnly float64 `json:"ratio_server_only"`
	Method          string  `json:"method"`
}

// serverCPU is the CPU the sampled processes used during a run.
func serverCPU(r *Result) float64 {
	var s float64
	for _, p := range r.Processes {
		s += p.CPUSeconds
	}
	return s
}

// CostOf compares a run's CPU per sign-up with its no-op's; false when
// either has no completed journey or no sampled process (--pids).
func CostOf(signup, noop *Result, h HashCPU) (Cost, bool) {
	if signup == nil || noop == nil || signup.Completed == 0 || noop.Completed == 0 ||
		len(signup.Processes) == 0 || len(noop.Processes) == 0 {
		return Cost{}, false
	}
	c := Cost{Concurrency: signup.Concurrency,
		Signup:     serverCPU(signup) / float64(signup.Completed),
		Hashes:     h.PerSignupS,
		NoopServer: serverCPU(noop) / float64(noop.Completed),
		NoopWorker: noop.LocalCPUSeconds / float64(noop.Completed),
	}
	c.WithoutHashes = c.Signup - c.Hashes
	if d := c.NoopServer + c.NoopWorker; d > 0 {
		c.Ratio = c.WithoutHashes / d
	}
	if c.NoopServer > 0 {
		c.RatioServerOnly = c.WithoutHashes / c.NoopServer
	}
	c.Method = fmt.Sprintf("CPU of the --pids processes from /proc over each run ÷ completed journeys; "+
		"hashes: %d Hash + %d Verify per sign-up × the CPU of one, measured in the bench process "+
		"(getrusage around %d of each, argon2id m=%d KiB, t=%d, p=%d, GC included): %.1f + %.1f ms",
		HashesPerSignup, VerifiesPerSignup, h.Samples, h.Memory, h.Time, h.Threads, 1000*h.HashS, 1000*h.VerifyS)
	return c, true
}

// PrintCost writes the CPU per sign-up beside the no-op's.
func PrintCost(w io.Writer, c Cost) {
	fmt.Fprintf(w, "\nCPU per sign-up at concurrency %d (ms of CPU per completed journey):\n", c.Concurrency)
	fmt.Fprintf(w, "  sign-up, server processes            %7.1f\n", 1000*c.Signup)
	fmt.Fprintf(w, "    of which the password hashes       %7.1f\n", 1000*c.Hashes)
	fmt.Fprintf(w, "    without the hashes                 %7.1f\n", 1000*c.WithoutHashes)
	fmt.Fprintf(w, "  no-op, server processes              %7.1f\n", 1000*c.NoopServer)
	fmt.Fprintf(w, "  no-op, its worker and client (bench) %7.1f\n", 1000*c.NoopWorker)
	fmt.Fprintf(w, "  ratio without hashes ÷ no-op         %7.2f× (÷ the no-op's server CPU only: %.2f×)\n", c.Ratio, c.RatioServerOnly)
	fmt.Fprintf(w, "  method: %s\n", c.Method)
}
