package secret

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestBits(t *testing.T) {
	seq := make([]byte, 32)
	for i := range seq {
		seq[i] = byte(i)
	}
	tests := []struct {
		name   string
		secret string
		strong bool
	}{
		{"32 random bytes, base64", base64.StdEncoding.EncodeToString(random(32)), true},
		{"32 random bytes, base64url without padding", base64.RawURLEncoding.EncodeToString(random(32)), true},
		{"32 random bytes, hex", hex.EncodeToString(random(32)), true},
		{"48 random bytes, base64", base64.StdEncoding.EncodeToString(random(48)), true},
		{"a sign-up token (NewToken)", func() string { tok, _ := NewToken(); return tok }(), true},
		{"31 random bytes, base64", base64.StdEncoding.EncodeToString(random(31)), false},
		{"16 random bytes, hex", hex.EncodeToString(random(16)), false},
		{"aaaa…", strings.Repeat("a", 64), false},
		{"aaaa… (200)", strings.Repeat("a", 200), false},
		{"AAAA…=", strings.Repeat("A", 43) + "=", false},
		{"32 zero bytes, base64", base64.StdEncoding.EncodeToString(make([]byte, 32)), false},
		{"bytes 0…31, base64", base64.StdEncoding.EncodeToString(seq), false},
		{"'a'×32, base64", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("a"), 32)), false},
		{"abcdef…", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", false},
		{"repeated word", strings.Repeat("change-me", 8), false},
		{"repeated pair", strings.Repeat("ab", 40), false},
		{"short", "admin-secret", false},
		{"change-me", "change-me", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckStrong(tt.secret)
			if (err == nil) != tt.strong {
				t.Fatalf("CheckStrong(%.20q…) = %v (%.0f bits), want strong=%v", tt.secret, err, Bits(tt.secret), tt.strong)
			}
			if err != nil && strings.Contains(err.Error(), tt.secret) && tt.secret != "" {
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
}

// Every random 32-byte key passes, however it is encoded: the estimate
// discounts only stretches that random text shows with a probability
// under one in a million. The keys come from a fixed seed: with fresh ones,
// 60,000 estimates a run can meet that one in a million up to once in twenty
// runs (CI saw a hex key with "42135a15" twice), a failure of the sample,
// not of the estimate.
func TestRandomKeysPass(t *testing.T) {
	src := mrand.NewChaCha8([32]byte{'o', 'n', 'b', 'o', 'a', 'r', 'd', 'i', 'n', 'g'})
	for i := 0; i < 20000; i++ {
		k := make([]byte, 32)
		_, _ = src.Read(k)
		for _, s := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), hex.EncodeToString(k)} {
			if b := Bits(s); b < MinBits {
				t.Fatalf("random key %s estimated at %.1f bits", s, b)
			}
		}
	}
}

func TestCheckKeySpec(t *testing.T) {
	good := "k2:" + base64.StdEncoding.EncodeToString(random(32))
	if err := CheckKeySpec(good + ",k1:" + base64.StdEncoding.EncodeToString(random(32))); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		good + ",old:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("a"), 32)),
		"prod:mjTz0dHk7wXrkK8Yb6nZgYw6yqW1o3tB5uE2rP9sVhA=",
		"k1:mjTz0dHk7wXrkK8Yb6nZgYw6yqW1o3tB5uE2rP9sVhA=",
	} {
		err := CheckKeySpec(bad)
		if err == nil {
			t.Errorf("CheckKeySpec(%q) passed", bad)
			continue
		}
		if strings.Contains(err.Error(), "mjTz0") || strings.Contains(err.Error(), "YWFh") {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
	if err := CheckKeySpec("k1:mjTz0dHk7wXrkK8Yb6nZgYw6yqW1o3tB5uE2rP9sVhA="); !errors.Is(err, ErrSample) {
		t.Errorf("the compose sample key: %v, want ErrSample", err)
	}
}

// TestEnvExamplePlaceholdersAreSamples reads .env.example and checks that the
// api would refuse each of its operator secrets as a sample (ErrSample), so
// that a copied .env.example fails at start with a message that says so.
func TestEnvExamplePlaceholdersAreSamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]func(string) error{
		"ADMIN_TOKEN":             CheckStrong,
		"CODEC_TOKEN":             CheckStrong,
		"PAYLOAD_ENCRYPTION_KEYS": CheckKeySpec,
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		check := want[name]
		if !ok || check == nil {
			continue
		}
		delete(want, name)
		if err := check(value); !errors.Is(err, ErrSample) {
			t.Errorf(".env.example %s=%s: %v, want ErrSample", name, value, err)
		}
	}
	for name := range want {
		t.Errorf(".env.example does not set %s", name)
	}
}

// settingRe finds assignments of the operator secrets in any file: env
// files and shell (NAME=value), YAML and Helm values (NAME: value,
// adminToken: value), JSON ("NAME": "value") and Go (Setenv("NAME", "value")).
var settingRe = regexp.MustCompile(`(?i)\b(admin[_-]?token|codec[_-]?token|payload[_-]?encryption[_-]?keys?)["'` + "`" + `]?\s*(?:[:=]|",)\s*("[^"\n]*"|'[^'\n]*'|[^\s"'#]+)`)

// TestRepositorySamplesAreRefused scans every file the repository tracks
// (compose files, .env examples, Helm values, docs, tests: whatever is added
// later too) for values given to ADMIN_TOKEN, CODEC_TOKEN and
// PAYLOAD_ENCRYPTION_KEYS, and checks that the process would refuse each one
// at start. A new high-entropy example fails here until it is listed in
// isSample.
func TestRepositorySamplesAreRefused(t *testing.T) {
	root := repoRoot(t)
	files := trackedFiles(t, root)
	if len(files) < 50 {
		t.Fatalf("only %d files found under %s", len(files), root)
	}
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil || len(b) > 1<<20 || bytes.IndexByte(b, 0) >= 0 {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for line := 1; sc.Scan(); line++ {
			for _, m := range settingRe.FindAllStringSubmatch(sc.Text(), -1) {
				name, value := strings.ToLower(m[1]), strings.Trim(m[2], `"'`)
				if value == "" {
					continue
				}
				found++
				var err error
				if strings.HasPrefix(name, "payload") {
					err = CheckKeySpec(value)
				} else {
					err = CheckStrong(value)
				}
				if err == nil {
					t.Errorf("%s:%d: %s is given a value the service would accept; add it to isSample", f, line, m[1])
				}
			}
		}
	}
	// The key file of the recorded histories is a sample too.
	spec, err := os.ReadFile(filepath.Join(root, "workflows", "testdata", "payload-keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckKeySpec(strings.TrimSpace(string(spec))); !errors.Is(err, ErrSample) {
		t.Errorf("workflows/testdata/payload-keys: %v, want ErrSample", err)
	}
	if found == 0 {
		t.Fatal("no assignment of the operator secrets found: the scan is broken")
	}
	t.Logf("%d assignments in %d files checked", found, len(files))
}

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// trackedFiles lists the files git tracks, or every file when git cannot
// say (a copy without .git).
func trackedFiles(t *testing.T, root string) []string {
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output(); err == nil && len(out) > 0 {
		return strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	}
	var files []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	return files
}
