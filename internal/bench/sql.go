package bench

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
)

// statements reads onboarding_db_statements_total by caller from
// Prometheus endpoints, summed.
func statements(ctx context.Context, hc *http.Client, urls []string) map[string]float64 {
	out := map[string]float64{}
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			continue
		}
		res, err := hc.Do(req)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, `onboarding_db_statements_total{caller="`) {
				continue
			}
			rest := strings.TrimPrefix(line, `onboarding_db_statements_total{caller="`)
			caller, val, ok := strings.Cut(rest, `"} `)
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err == nil {
				out[caller] += v
			}
		}
		res.Body.Close()
	}
	return out
}

// perSignup is the statements each completed sign-up cost, by caller.
func perSignup(before, after map[string]float64, completed int) map[string]float64 {
	if completed == 0 {
		return nil
	}
	out := map[string]float64{}
	total := 0.0
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d / float64(completed)
			total += d
		}
	}
	if total > 0 {
		out["(total)"] = total / float64(completed)
	}
	return out
}
