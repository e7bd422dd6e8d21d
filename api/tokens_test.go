package api

import (
	"fmt"
	"testing"
)

func TestKnownTokens(t *testing.T) {
	k := newKnownTokens(3)
	for i := range 4 {
		k.add(fmt.Sprint("s", i), fmt.Sprint("h", i))
	}
	k.add("s2", "other") // known already: the hash never changes
	k.forget("s3")
	tests := []struct {
		id, hash string
		known    bool
	}{
		{"s0", "", false}, // the oldest, gone when the fourth came
		{"s1", "h1", true},
		{"s2", "h2", true},
		{"s3", "", false}, // forgotten
		{"s9", "", false},
	}
	for _, tt := range tests {
		h, ok := k.hash(tt.id)
		if h != tt.hash || ok != tt.known {
			t.Errorf("%s: %q %v, want %q %v", tt.id, h, ok, tt.hash, tt.known)
		}
	}
	if len(k.hashes) > 3 {
		t.Errorf("%d hashes kept, bound 3", len(k.hashes))
	}
}
