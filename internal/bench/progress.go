package bench

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// newBar draws a progress bar on a terminal; anywhere else (a log file, a
// pipe) it writes one line when the stage ends instead of redrawing.
func newBar(o Options, what, unit string) progressBar {
	if !isTerminal(o.Progress) {
		return newLines(o.Progress, what, unit)
	}
	max := int64(o.Count)
	if max == 0 {
		max = -1
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(o.Progress),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
	)
	return progressBar{add: func() { _ = bar.Add(1) }, finish: func() { _ = bar.Finish(); _, _ = o.Progress.Write([]byte("\n")) }}
}

// isTerminal reports whether w is a character device: a terminal (or
// /dev/null, where drawing costs nothing either). Files, pipes and buffers
// are not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newLines counts units and writes a single line for the stage when it
// finishes: what, how many, how long, how many a second.
func newLines(w io.Writer, what, unit string) progressBar {
	var n atomic.Int64
	start := time.Now()
	return progressBar{
		add: func() { n.Add(1) },
		finish: func() {
			secs := time.Since(start).Seconds()
			rate := 0.0
			if secs > 0 {
				rate = float64(n.Load()) / secs
			}
			fmt.Fprintf(w, "%s: %d %s in %.1f s (%.2f %s/s)\n", what, n.Load(), unit, secs, rate, unit)
		},
	}
}
