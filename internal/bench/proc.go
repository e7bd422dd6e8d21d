package bench

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process is the cost of one server process during a run.
type Process struct {
	PID        int     `json:"pid"`
	Name       string  `json:"name"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUPercent float64 `json:"cpu_percent_of_one_core"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	EndRSSMiB  float64 `json:"end_rss_mib"`
}

// sampler reads /proc for the processes' CPU time and resident memory.
type sampler struct {
	pids  []int
	start time.Time
	cpu0  map[int]float64
	peak  map[int]float64
	mu    sync.Mutex
	done  chan struct{}
	wg    sync.WaitGroup
}

const clockTicks = 100 // USER_HZ on Linux

func newSampler(pids []int) *sampler {
	s := &sampler{pids: pids, start: time.Now(), cpu0: map[int]float64{}, peak: map[int]float64{}, done: make(chan struct{})}
	for _, p := range pids {
		s.cpu0[p] = cpuSeconds(p)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pids {
		if r := RSSMiB(p); r > s.peak[p] {
			s.peak[p] = r
		}
	}
}

func (s *sampler) stop() []Process {
	close(s.done)
	s.wg.Wait()
	s.sample()
	elapsed := time.Since(s.start).Seconds()
	out := make([]Process, 0, len(s.pids))
	for _, p := range s.pids {
		cpu := cpuSeconds(p) - s.cpu0[p]
		out = append(out, Process{PID: p, Name: procName(p), CPUSeconds: cpu, CPUPercent: 100 * cpu / elapsed,
			PeakRSSMiB: s.peak[p], EndRSSMiB: RSSMiB(p)})
	}
	return out
}

func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks
}

// RSSMiB is a process's resident memory now.
func RSSMiB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func procName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return "?"
	}
	parts := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	name := parts[0][strings.LastIndexByte(parts[0], '/')+1:]
	if len(parts) > 1 {
		name += " " + parts[1]
	}
	return name
}
