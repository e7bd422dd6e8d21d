package config

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/kcloud/onboarding/internal/secret"
)

// setEnv clears the settings these tests touch and sets the given ones.
func setEnv(t *testing.T, kv ...string) {
	t.Helper()
	for _, k := range []string{"HTTP_ADDR", "METRICS_ADDR", "SMTP_HOST", "SMTP_TLS", "SMTP_PORT", "ADMIN_TOKEN", "CODEC_TOKEN",
		"PAYLOAD_ENCRYPTION_KEYS", "DATABASE_URL", "SIGNUP_MAX_AGE", "MAX_OPEN_SIGNUPS_PER_BUSINESS"} {
		t.Setenv(k, "")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

func strongToken() string { tok, _ := secret.NewToken(); return tok }

func strongKeys() string {
	tok, _ := secret.NewToken()
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	return "k1:" + base64.StdEncoding.EncodeToString(raw)
}

// unset removes variables env set to "" (Load tells unset from empty for
// HTTP_ADDR and METRICS_ADDR).
func unset(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOperatorSecrets(t *testing.T) {
	weak := "admin-secret"
	tests := []struct {
		name    string
		mode    Mode
		kv      []string
		refused string // the variable the error names; "" = starts
	}{
		{"strong tokens and key", ModeAPI, []string{"ADMIN_TOKEN", strongToken(), "CODEC_TOKEN", strongToken()}, ""},
		{"no tokens: admin API and codec server off", ModeWorker, nil, ""},
		{"weak ADMIN_TOKEN (api)", ModeAPI, []string{"ADMIN_TOKEN", weak}, "ADMIN_TOKEN"},
		{"weak ADMIN_TOKEN (worker)", ModeWorker, []string{"ADMIN_TOKEN", weak}, "ADMIN_TOKEN"},
		{"aaaa… CODEC_TOKEN", ModeAPI, []string{"CODEC_TOKEN", strings.Repeat("a", 64)}, "CODEC_TOKEN"},
		{"the compose file's key", ModeAPI, []string{"PAYLOAD_ENCRYPTION_KEYS", "k1:mjTz0dHk7wXrkK8Yb6nZgYw6yqW1o3tB5uE2rP9sVhA="}, "PAYLOAD_ENCRYPTION_KEYS"},
		{"a key of 'a' bytes", ModeWorker, []string{"PAYLOAD_ENCRYPTION_KEYS", "k1:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", 32)))}, "PAYLOAD_ENCRYPTION_KEYS"},
		{"dev takes anything", ModeDev, []string{"ADMIN_TOKEN", weak, "CODEC_TOKEN", weak}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, append([]string{"DATABASE_URL", "sqlite:///tmp/x.db", "SMTP_HOST", "127.0.0.1", "PAYLOAD_ENCRYPTION_KEYS", strongKeys()}, tt.kv...)...)
			_, err := Load(tt.mode)
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused)):
				t.Fatalf("error %v, want one naming %s", err, tt.refused)
			case err != nil && strings.Contains(err.Error(), weak):
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
}

func TestCodecTokenIsItsOwn(t *testing.T) {
	setEnv(t, "ADMIN_TOKEN", strongToken())
	c, err := Load(ModeDev)
	if err != nil {
		t.Fatal(err)
	}
	if c.CodecToken != "" {
		t.Fatal("CODEC_TOKEN defaulted to ADMIN_TOKEN")
	}
}

func TestSMTPTLSDefault(t *testing.T) {
	tests := []struct {
		name     string
		mode     Mode
		kv       []string
		tls      string
		port     int
		explicit bool
	}{
		{"a relay: starttls", ModeWorker, []string{"SMTP_HOST", "smtp.example.com"}, "starttls", 587, false},
		{"loopback relay: none", ModeWorker, []string{"SMTP_HOST", "127.0.0.1"}, "none", 25, false},
		{"localhost: none", ModeWorker, []string{"SMTP_HOST", "localhost"}, "none", 25, false},
		{"IPv6 loopback: none", ModeWorker, []string{"SMTP_HOST", "::1"}, "none", 25, false},
		{"none when set", ModeWorker, []string{"SMTP_HOST", "mailpit", "SMTP_TLS", "none"}, "none", 25, true},
		{"tls when set", ModeWorker, []string{"SMTP_HOST", "smtp.example.com", "SMTP_TLS", "tls"}, "tls", 465, true},
		{"dev capture: none", ModeDev, nil, "none", 1025, false},
		{"dev with a relay: starttls", ModeDev, []string{"SMTP_HOST", "smtp.example.com"}, "starttls", 587, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, append([]string{"DATABASE_URL", "sqlite:///tmp/x.db", "PAYLOAD_ENCRYPTION_KEYS", strongKeys()}, tt.kv...)...)
			if !tt.explicit {
				unset(t, "SMTP_TLS")
			}
			c, err := Load(tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if c.SMTPTLS != tt.tls || c.SMTPPort != tt.port {
				t.Fatalf("SMTP_TLS %q port %d, want %q %d", c.SMTPTLS, c.SMTPPort, tt.tls, tt.port)
			}
		})
	}
}

func TestListenDefaults(t *testing.T) {
	tests := []struct {
		name          string
		mode          Mode
		kv            []string
		http, metrics string
	}{
		{"dev listens on loopback", ModeDev, nil, "127.0.0.1:8080", ""},
		{"dev where HTTP_ADDR says", ModeDev, []string{"HTTP_ADDR", ":8080"}, ":8080", ""},
		{"api on every interface, metrics with it", ModeAPI, nil, ":8080", ""},
		{"api metrics on their own address", ModeAPI, []string{"METRICS_ADDR", "127.0.0.1:9464"}, ":8080", "127.0.0.1:9464"},
		{"worker metrics", ModeWorker, nil, ":8080", ":9090"},
		// A compose file or chart that leaves a variable empty means "default".
		{"dev with an empty HTTP_ADDR stays on loopback", ModeDev, []string{"HTTP_ADDR", ""}, "127.0.0.1:8080", ""},
		{"worker with an empty METRICS_ADDR", ModeWorker, []string{"METRICS_ADDR", " "}, ":8080", ":9090"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, append([]string{"DATABASE_URL", "sqlite:///tmp/x.db", "SMTP_HOST", "127.0.0.1", "PAYLOAD_ENCRYPTION_KEYS", strongKeys()}, tt.kv...)...)
			for _, k := range []string{"HTTP_ADDR", "METRICS_ADDR"} {
				set := false
				for i := 0; i < len(tt.kv); i += 2 {
					set = set || tt.kv[i] == k
				}
				if !set {
					unset(t, k)
				}
			}
			c, err := Load(tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if c.HTTPAddr != tt.http || c.MetricsAddr != tt.metrics {
				t.Fatalf("HTTP_ADDR %q METRICS_ADDR %q, want %q %q", c.HTTPAddr, c.MetricsAddr, tt.http, tt.metrics)
			}
		})
	}
}

func TestAbuseBounds(t *testing.T) {
	setEnv(t)
	c, err := Load(ModeDev)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxOpenSignupsPerBusiness != 3 || c.SignupMaxAge.Hours() != 168 {
		t.Fatalf("defaults: %d open sign-ups per business, max age %s", c.MaxOpenSignupsPerBusiness, c.SignupMaxAge)
	}
	setEnv(t, "SIGNUP_MAX_AGE", "0s")
	if _, err := Load(ModeDev); err == nil || !strings.Contains(err.Error(), "SIGNUP_MAX_AGE") {
		t.Fatalf("SIGNUP_MAX_AGE=0: %v", err)
	}
	setEnv(t, "MAX_OPEN_SIGNUPS_PER_BUSINESS", "-1")
	if _, err := Load(ModeDev); err == nil || !strings.Contains(err.Error(), "MAX_OPEN_SIGNUPS_PER_BUSINESS") {
		t.Fatalf("MAX_OPEN_SIGNUPS_PER_BUSINESS=-1: %v", err)
	}
}

// A wrong RATE_LIMIT_STORE is named in the error, but its value (which may
// carry a Redis password) is not printed.
func TestRateLimitStoreErrorHidesValue(t *testing.T) {
	tests := []struct{ name, v string }{
		{"mistyped scheme", "redsi://:s3cretPassw0rd@cache:6379/0"},
		{"unparsable redis URL", "redis://:s3cretPassw0rd@cache:6379/%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRateLimitStore(tt.v, "")
			if err == nil || !strings.Contains(err.Error(), "RATE_LIMIT_STORE") {
				t.Fatalf("checkRateLimitStore(%q) = %v, want an error naming RATE_LIMIT_STORE", tt.v, err)
			}
			if strings.Contains(err.Error(), "s3cretPassw0rd") {
				t.Fatalf("the error prints the password: %v", err)
			}
		})
	}
}

// MIGRATE_ON_START: unset (and a Config built in code) migrates; false
// does not; a value that is not a boolean is refused.
func TestMigrateOnStartSetting(t *testing.T) {
	tests := []struct {
		name, v string
		set     bool
		want    bool
		wantErr bool
	}{
		{"unset", "", false, true, false},
		{"true", "true", true, true, false},
		{"false", "false", true, false, false},
		{"not a boolean", "sometimes", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t)
			unset(t, "MIGRATE_ON_START")
			if tt.set {
				t.Setenv("MIGRATE_ON_START", tt.v)
			}
			c, err := Load(ModeDev)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "MIGRATE_ON_START") {
					t.Fatalf("Load: %v, want an error naming MIGRATE_ON_START", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MigratesOnStart() != tt.want {
				t.Fatalf("MigratesOnStart() = %v, want %v", c.MigratesOnStart(), tt.want)
			}
		})
	}
	if !(Config{}).MigratesOnStart() {
		t.Error("a Config built in code does not migrate")
	}
}
