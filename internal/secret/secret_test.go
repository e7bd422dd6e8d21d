package secret

import "testing"

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		tok, hash := NewToken()
		if !WellFormed(tok) {
			t.Fatalf("token %q is not well formed", tok)
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
		if !Matches(tok, hash) || Matches(tok+"x", hash) || hash == tok {
			t.Fatal("hash does not match its token")
		}
	}
	for _, bad := range []string{"", "short", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"} {
		if WellFormed(bad) {
			t.Errorf("WellFormed(%q) = true", bad)
		}
	}
}

func BenchmarkNewToken(b *testing.B) {
	for b.Loop() {
		NewToken()
	}
}
