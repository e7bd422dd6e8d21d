package password

import (
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		pw   string
		want []Rule
	}{
		{"Kakao!Cloud7", nil},
		{"Zq9!mX2#pL", nil},
		{"Sh0rt!", []Rule{RuleLength}},
		{"Thirty1!" + strings.Repeat("xZ", 12), []Rule{RuleLength}},
		{"alllower1!x", []Rule{RuleUpper, RuleRepeat}},
		{"NOLOWER1!XY", []Rule{RuleLower}},
		{"NoDigits!Here", []Rule{RuleDigit}},
		{"NoSymbol1Here", []Rule{RuleSymbol}},
		{"Seq!abcQ9zz", []Rule{RuleSequence}},
		{"Seq!CBAq9zx", []Rule{RuleSequence}},
		{"Seq!q123zxW", []Rule{RuleSequence}},
		{"Seq!q987zxW", []Rule{RuleSequence}},
		{"Rep!q999zxW", []Rule{RuleRepeat}},
		{"Rep!q9zzzxW", []Rule{RuleRepeat}},
		{"Has Space1!x", []Rule{RuleCharacters}},
		{"Hangul한1!xZa", []Rule{RuleCharacters}},
		{"", []Rule{RuleLength, RuleUpper, RuleLower, RuleDigit, RuleSymbol}},
		// Sequences across classes do not count: "9:;" is not a run.
		{"Zq9:;mX2#p", nil},
	}
	for _, tt := range tests {
		t.Run(tt.pw, func(t *testing.T) {
			if got := Check(tt.pw); !slices.Equal(got, tt.want) {
				t.Fatalf("Check(%q) = %v, want %v", tt.pw, got, tt.want)
			}
		})
	}
}

func TestHashVerify(t *testing.T) {
	h := NewHasher(Params{Memory: 1024, Time: 1, Threads: 1})
	enc, err := h.Hash("Kakao!Cloud7")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	other, _ := h.Hash("Kakao!Cloud7")
	if other == enc {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	tests := []struct {
		pw   string
		want bool
	}{{"Kakao!Cloud7", true}, {"kakao!Cloud7", false}, {"", false}}
	for _, tt := range tests {
		ok, err := h.Verify(enc, tt.pw)
		if err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
	// A hash made with other parameters still verifies.
	ok, err := NewHasher(DefaultParams).Verify(enc, "Kakao!Cloud7")
	if err != nil || !ok {
		t.Errorf("Verify with other default params = %v, %v", ok, err)
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=0,t=1,p=1$AA$AA"} {
		if _, err := h.Verify(bad, "x"); err == nil {
			t.Errorf("Verify(%q) accepted a malformed hash", bad)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"Kakao!Cloud7", "abc", "ÿÿÿ", "\x00\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules := Check(s)
		if len(rules) == 0 {
			n := len([]rune(s))
			if n < MinLength || n > MaxLength {
				t.Fatalf("%q passed with length %d", s, n)
			}
		}
		_ = Describe(rules)
	})
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams)
	for b.Loop() {
		if _, err := h.Hash("Kakao!Cloud7"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	for b.Loop() {
		if r := Check("Kakao!Cloud7"); len(r) != 0 {
			b.Fatal(r)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(DefaultParams)
	enc, _ := h.Hash("Kakao!Cloud7")
	for b.Loop() {
		if ok, err := h.Verify(enc, "Kakao!Cloud7"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
