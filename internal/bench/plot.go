package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// PlotSVG draws wizard-step latency (p50, p95, p99) and completed sign-ups
// per second against concurrency, one point per run.
func PlotSVG(w io.Writer, title string, runs []*Result) error {
	const (
		width, height          = 760, 420
		left, right, top, bott = 70, 70, 50, 60
	)
	if len(runs) == 0 {
		return fmt.Errorf("plot: no runs")
	}
	maxX, maxY, maxT := 0.0, 0.0, 0.0
	for _, r := range runs {
		maxX = math.Max(maxX, float64(r.Concurrency))
		maxY = math.Max(maxY, r.WizardSteps.P99)
		maxT = math.Max(maxT, r.PerSecond)
	}
	maxY = nice(maxY)
	maxT = nice(maxT)
	px := func(x float64) float64 { return left + x/maxX*(width-left-right) }
	py := func(y, top2 float64) float64 { return height - bott - y/top2*(height-top-bott) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`, left, esc(title))
	// Axes and grid.
	for i := 0; i <= 5; i++ {
		y := maxY * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`, left, py(y, maxY), width-right, py(y, maxY))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f</text>`, left-6, py(y, maxY)+4, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#2a7">%.1f</text>`, width-right+6, py(maxT*float64(i)/5, maxT)+4, maxT*float64(i)/5)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, left, height-bott, width-right, height-bott)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, left, top, left, height-bott)
	for _, r := range runs {
		x := px(float64(r.Concurrency))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`, x, height-bott+18, r.Concurrency)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">concurrent people</text>`, (width)/2, height-14)
	fmt.Fprintf(&b, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">wizard step latency (ms)</text>`, height/2, height/2)
	fmt.Fprintf(&b, `<text x="%d" y="%d" transform="rotate(90 %d %d)" text-anchor="middle" fill="#2a7">completed sign-ups / s</text>`, width-18, height/2, width-18, height/2)
	series := []struct {
		name  string
		color string
		get   func(*Result) float64
		scale float64
	}{
		{"p50", "#36c", func(r *Result) float64 { return r.WizardSteps.P50 }, maxY},
		{"p95", "#f90", func(r *Result) float64 { return r.WizardSteps.P95 }, maxY},
		{"p99", "#d33", func(r *Result) float64 { return r.WizardSteps.P99 }, maxY},
		{"sign-ups/s", "#2a7", func(r *Result) float64 { return r.PerSecond }, maxT},
	}
	for i, s := range series {
		var pts []string
		for _, r := range runs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(float64(r.Concurrency)), py(s.get(r), s.scale)))
		}
		dash := ""
		if s.name == "sign-ups/s" {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, s.color, dash, strings.Join(pts, " "))
		for _, p := range pts {
			var x, y float64
			fmt.Sscanf(p, "%f,%f", &x, &y)
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, x, y, s.color)
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`,
			left+10+i*110, top-8, s.color, left+28+i*110, top-4, s.name)
	}
	b.WriteString(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

func nice(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
