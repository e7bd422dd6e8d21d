package bench

import (
	"time"

	"github.com/schollz/progressbar/v3"
)

func newBar(o Options, what, unit string) progressBar {
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
