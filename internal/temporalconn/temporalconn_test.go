package temporalconn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcloud/onboarding/internal/certtest"
)

type env map[string]string

func (e env) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func (e env) LookupEnv(k string) (string, bool) { v, ok := e[k]; return v, ok }

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	set, err := certtest.NewSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	old, err := set.CA.Issue("old", certtest.Options{Client: true, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	toml := filepath.Join(dir, "temporal.toml")
	if err := os.WriteFile(toml, []byte(`
[profile.cloud]
address = "ns.acct.tmprl.cloud:7233"
namespace = "ns.acct"
[profile.cloud.tls]
client_cert_path = "`+old.CertFile+`"
client_key_path = "`+old.KeyFile+`"
[profile.key]
address = "ap-northeast-2.aws.api.temporal.io:7233"
namespace = "ns.acct"
api_key = "secret"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none.toml")
	tests := []struct {
		name    string
		env     env
		addr    string
		tls     bool
		wantErr string
	}{
		{"defaults", env{"TEMPORAL_CONFIG_FILE": none}, DefaultAddress, false, ""},
		// What the test topologies set, so a developer's own CLI config is not read.
		{"config file /dev/null", env{"TEMPORAL_CONFIG_FILE": os.DevNull}, DefaultAddress, false, ""},
		{"empty variables count as unset", env{"TEMPORAL_CONFIG_FILE": none, "TEMPORAL_ADDRESS": "", "TEMPORAL_TLS_CLIENT_CERT_PATH": "", "TEMPORAL_TLS_SERVER_NAME": ""}, DefaultAddress, false, ""},
		{"TLS on with the system's CAs", env{"TEMPORAL_CONFIG_FILE": none, "TEMPORAL_TLS": "true"}, DefaultAddress, true, ""},
		{"mutual TLS from files", env{"TEMPORAL_CONFIG_FILE": none, "TEMPORAL_ADDRESS": "t:7233", "TEMPORAL_TLS_CLIENT_CERT_PATH": set.Client.CertFile,
			"TEMPORAL_TLS_CLIENT_KEY_PATH": set.Client.KeyFile, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": set.CA.CertFile}, "t:7233", true, ""},
		{"API key profile turns TLS on", env{"TEMPORAL_CONFIG_FILE": toml, "TEMPORAL_PROFILE": "key"}, "ap-northeast-2.aws.api.temporal.io:7233", true, ""},
		{"environment over the profile", env{"TEMPORAL_CONFIG_FILE": toml, "TEMPORAL_PROFILE": "cloud", "TEMPORAL_TLS_CLIENT_CERT_PATH": set.Client.CertFile,
			"TEMPORAL_TLS_CLIENT_KEY_PATH": set.Client.KeyFile}, "ns.acct.tmprl.cloud:7233", true, ""},
		{"expired certificate named in the profile", env{"TEMPORAL_CONFIG_FILE": toml, "TEMPORAL_PROFILE": "cloud"}, "", false,
			`TEMPORAL_TLS_CLIENT_CERT_PATH (tls.client_cert_path in profile "cloud" of ` + toml + `): certificate expired on`},
		{"unknown profile", env{"TEMPORAL_CONFIG_FILE": toml, "TEMPORAL_PROFILE": "nope"}, "", false, "TEMPORAL_PROFILE/TEMPORAL_CONFIG_FILE"},
		{"key without certificate", env{"TEMPORAL_CONFIG_FILE": none, "TEMPORAL_TLS_CLIENT_KEY_PATH": set.Client.KeyFile}, "", false, "TEMPORAL_TLS_CLIENT_CERT_PATH: not set"},
		{"CA file that holds no certificate", env{"TEMPORAL_CONFIG_FILE": none, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": set.Client.KeyFile}, "", false, "TEMPORAL_TLS_SERVER_CA_CERT_PATH: no PEM certificate"},
		{"path and data both", env{"TEMPORAL_CONFIG_FILE": none, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": set.CA.CertFile, "TEMPORAL_TLS_SERVER_CA_CERT_DATA": string(set.CA.CertPEM)}, "", false, "TEMPORAL_TLS_SERVER_CA_CERT_PATH: set the _PATH or the _DATA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load(tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Address() != tc.addr || s.TLS() != tc.tls {
				t.Errorf("address %s TLS %v, want %s %v", s.Address(), s.TLS(), tc.addr, tc.tls)
			}
			if strings.Contains(s.Describe(), "secret") {
				t.Errorf("Describe shows the API key: %s", s.Describe())
			}
		})
	}
}

// Behind an HTTPS proxy gRPC dials through it, so the direct probe is
// skipped; NO_PROXY and no proxy keep it.
func TestProxied(t *testing.T) {
	tests := []struct {
		name, proxy, noProxy, addr string
		want                       bool
	}{
		{"no proxy", "", "", "ns.acct.tmprl.cloud:7233", false},
		{"proxy", "http://proxy.internal:3128", "", "ns.acct.tmprl.cloud:7233", true},
		{"excluded by NO_PROXY", "http://proxy.internal:3128", ".tmprl.cloud", "ns.acct.tmprl.cloud:7233", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"} {
				t.Setenv(k, "")
			}
			t.Setenv("HTTPS_PROXY", tt.proxy)
			t.Setenv("NO_PROXY", tt.noProxy)
			if got := proxied(tt.addr); got != tt.want {
				t.Fatalf("proxied(%q) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}
