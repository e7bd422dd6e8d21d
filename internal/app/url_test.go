package app

import "testing"

func TestURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"[::]:8080", "http://localhost:8080"},
		{"0.0.0.0:8080", "http://localhost:8080"},
		{":8080", "http://localhost:8080"},
		{"127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"[::1]:8080", "http://[::1]:8080"},
		{"api.internal:80", "http://api.internal:80"},
		{"not an address", "http://not an address"},
	}
	for _, tt := range tests {
		if got := URL(tt.addr); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
