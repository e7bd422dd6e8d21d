package bench

import (
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	think := []struct {
		in       string
		min, max time.Duration
		wantErr  bool
	}{
		{"0", 0, 0, false},
		{"2s", 2 * time.Second, 2 * time.Second, false},
		{"1s-3s", time.Second, 3 * time.Second, false},
		{"3s-1s", 0, 0, true},
		{"soon", 0, 0, true},
	}
	for _, tt := range think {
		lo, hi, err := ParseThink(tt.in)
		if (err != nil) != tt.wantErr || lo != tt.min || hi != tt.max {
			t.Errorf("ParseThink(%q) = %s, %s, %v", tt.in, lo, hi, err)
		}
	}
	ints := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"", nil, false},
		{"1, 5,10", []int{1, 5, 10}, false},
		{"12x", nil, true},
		{"0", nil, true},
	}
	for _, tt := range ints {
		got, err := ParseInts(tt.in, "--sweep")
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParseInts(%q) = %v, %v", tt.in, got, err)
		}
	}
}
