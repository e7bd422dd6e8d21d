package bizno

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Number
		wantErr error
	}{
		{"220-81-62517", "2208162517", nil},
		{"2208162517", "2208162517", nil},
		{"120-81-47521", "1208147521", nil},
		{" 120 81 47521 ", "1208147521", nil},
		{"123-45-67890", "", ErrChecksum},
		{"000-00-00000", "", ErrReserved},
		{"0000000000", "", ErrReserved},
		{"220-81-6251", "", ErrFormat},
		{"220-81-625177", "", ErrFormat},
		{"22-081-62517", "", ErrFormat},
		{"220--81-62517", "", ErrFormat},
		{"2208-162517", "", ErrFormat},
		{"22O8162517", "", ErrFormat},
		{"２２０８１６２５１７", "", ErrFormat},
		{"", "", ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	n := Number("2208162517")
	if got := n.String(); got != "220-81-62517" {
		t.Errorf("String() = %q", got)
	}
	if got := n.Masked(); got != "220-**-***17" {
		t.Errorf("Masked() = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"220-81-62517", "2208162517", "000-00-00000", "123-45-67890", "--", "1 2 3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		if len(n.Digits()) != 10 || !ValidChecksum(n.Digits()) {
			t.Fatalf("Parse(%q) = %q accepted an invalid number", s, n)
		}
		again, err := Parse(n.String())
		if err != nil || again != n {
			t.Fatalf("round trip of %q: %q, %v", n, again, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse("220-81-62517"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMake(t *testing.T) {
	seen := map[Number]bool{}
	for _, serial := range []int{0, 1, 2, 99, 123456789, 899_999_999, 900_000_000, -5} {
		n := Make(serial)
		if _, err := Parse(string(n)); err != nil {
			t.Errorf("Make(%d) = %s: %v", serial, n, err)
		}
		seen[n] = true
	}
	if len(seen) != 7 { // 0 and 900000000 are the same serial
		t.Errorf("%d distinct numbers", len(seen))
	}
}
