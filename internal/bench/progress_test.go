package bench

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestIsTerminal(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "bench.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"buffer", &bytes.Buffer{}, false},
		{"log file", file, false},
		{"pipe", w, false},
		{"character device", null, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isTerminal(tc.w); got != tc.want {
				t.Fatalf("isTerminal = %v, want %v", got, tc.want)
			}
		})
	}
}

// Written anywhere but a terminal, a stage is one line, however many units
// it counts, and no carriage-return redraws.
func TestProgressNotTerminal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		count int // Options.Count (0: a run for a duration)
		units int
	}{
		{"no units", 10, 0},
		{"one", 10, 1},
		{"a capacity run", 300, 300},
		{"by duration", 0, 1234},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			bar := progress(Options{Progress: &buf, Count: tc.count}, "sign-ups", "sign-ups")
			for range tc.units {
				bar.add()
			}
			bar.finish()
			out := buf.String()
			if strings.Contains(out, "\r") {
				t.Fatalf("redraws into a non-terminal: %q", out)
			}
			if n := strings.Count(out, "\n"); n != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("want exactly one line, got %d: %q", n, out)
			}
			if want := "sign-ups: " + strconv.Itoa(tc.units) + " sign-ups in "; !strings.HasPrefix(out, want) {
				t.Fatalf("line %q does not start with %q", out, want)
			}
		})
	}
}

func TestProgressNone(t *testing.T) {
	bar := progress(Options{}, "sign-ups", "sign-ups")
	bar.add()
	bar.finish() // no writer: nothing to write to, and no panic
}
