// Package temporalconn loads how to reach Temporal the way the Temporal CLI
// and SDKs do (go.temporal.io/sdk/contrib/envconfig: TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and
// the config file), checks the certificates before any connection, and
// dials: it keeps trying while the server is unreachable, but stops at once,
// naming the setting, when TLS, a certificate or the API key is wrong —
// waiting would not mend those.
package temporalconn

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
)

// Defaults when neither the environment nor a profile says.
const (
	DefaultAddress   = "127.0.0.1:7233"
	DefaultNamespace = "default"
)

// Help lists the connection settings, for the roles' --help.
const Help = `Temporal connection (read as the Temporal CLI and SDKs read them):
  TEMPORAL_ADDRESS                  host:port of the frontend (default 127.0.0.1:7233;
                                    Temporal Cloud: <namespace>.<account>.tmprl.cloud:7233
                                    with a certificate, or the regional endpoint with an API key)
  TEMPORAL_NAMESPACE                namespace (default "default")
  TEMPORAL_API_KEY                  API key, sent as "authorization: Bearer <key>"; turns TLS on
  TEMPORAL_TLS                      true/false: TLS with the system's CAs when nothing else is set
  TEMPORAL_TLS_CLIENT_CERT_PATH     client certificate (PEM) for mTLS, or _DATA with the PEM itself
  TEMPORAL_TLS_CLIENT_KEY_PATH      its private key (PEM), or _DATA
  TEMPORAL_TLS_SERVER_CA_CERT_PATH  CA that signed the server's certificate (default: the system's), or _DATA
  TEMPORAL_TLS_SERVER_NAME          name expected in the server's certificate (default: the address's host)
  TEMPORAL_PROFILE                  profile of the config file (default "default")
  TEMPORAL_CONFIG_FILE              config file (default ~/.config/temporalio/temporal.toml)
A wrong certificate, CA or API key stops the process at start with the setting's name;
an unreachable server is waited for.`

// Settings are the loaded connection settings.
type Settings struct {
	// Options carry the address, namespace, credentials and TLS; the caller
	// lays its data converter, interceptors, metrics and logger over them.
	Options client.Options
	// Profile and File name where non-environment values came from.
	Profile string
	File    string
	// ClientCert is the parsed client certificate, when there is one.
	ClientCert *x509.Certificate

	prof envconfig.ClientConfigProfile
	env  envconfig.EnvLookup
}

// Address is where the client dials.
func (s *Settings) Address() string { return s.Options.HostPort }

// Namespace is the namespace the client uses.
func (s *Settings) Namespace() string { return s.Options.Namespace }

// TLS reports whether the connection uses TLS.
func (s *Settings) TLS() bool { return s.Options.ConnectionOptions.TLS != nil }

// APIKey reports whether an API key is sent.
func (s *Settings) APIKey() bool { return s.prof.APIKey != "" }

// Describe is a short, secret-free account of the connection for logs.
func (s *Settings) Describe() string {
	var parts []string
	parts = append(parts, s.Address(), "namespace "+s.Namespace())
	switch {
	case s.ClientCert != nil:
		parts = append(parts, "mTLS as "+s.ClientCert.Subject.CommonName)
	case s.TLS():
		parts = append(parts, "TLS")
	default:
		parts = append(parts, "plain gRPC")
	}
	if s.APIKey() {
		parts = append(parts, "API key")
	}
	return strings.Join(parts, ", ")
}

// Load reads the settings from the environment (nil: the process's) and the
// config file, and checks the certificates they name. Errors name the
// setting at fault.
func Load(env envconfig.EnvLookup) (*Settings, error) {
	if env == nil {
		env = envconfig.EnvLookupOS
	}
	// A variable set to "" counts as unset (envconfig would turn TLS on for
	// an empty TEMPORAL_TLS_* variable, as deployment templates leave them).
	env = nonEmpty{env}
	s := &Settings{env: env}
	s.File, _ = env.LookupEnv("TEMPORAL_CONFIG_FILE")
	if s.File == "" {
		s.File = envconfig.DefaultConfigFilePath()
	}
	s.Profile, _ = env.LookupEnv("TEMPORAL_PROFILE")
	if s.Profile == "" {
		s.Profile = envconfig.DefaultConfigFileProfile
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{EnvLookup: env})
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_PROFILE/TEMPORAL_CONFIG_FILE (%s, profile %q): %w", s.File, s.Profile, err)
	}
	if prof.Address == "" {
		prof.Address = DefaultAddress
	}
	if prof.Namespace == "" {
		prof.Namespace = DefaultNamespace
	}
	s.prof = prof
	if err := s.check(time.Now()); err != nil {
		return nil, err
	}
	opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_TLS*: %w", err)
	}
	s.Options = opts
	return s, nil
}

// setting names where a value came from: the environment variable when it
// is set there, else the profile's key in the config file.
func (s *Settings) setting(env, key string) string {
	if v, ok := s.env.LookupEnv(env); ok && v != "" {
		return env
	}
	if strings.HasSuffix(env, "_PATH") {
		data := strings.TrimSuffix(env, "_PATH") + "_DATA"
		if v, ok := s.env.LookupEnv(data); ok && v != "" {
			return data
		}
	}
	if key == "" {
		return env
	}
	return fmt.Sprintf("%s (%s in profile %q of %s)", env, key, s.Profile, s.File)
}

// Setting names of the TLS values, as errors print them.
func (s *Settings) certSetting() string {
	return s.setting("TEMPORAL_TLS_CLIENT_CERT_PATH", "tls.client_cert_path")
}
func (s *Settings) keySetting() string {
	return s.setting("TEMPORAL_TLS_CLIENT_KEY_PATH", "tls.client_key_path")
}
func (s *Settings) caSetting() string {
	return s.setting("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "tls.server_ca_cert_path")
}

// check reads the certificate, key and CA the settings name and refuses
// what cannot work: unreadable files, a key that does not match, a client
// certificate outside its validity period.
func (s *Settings) check(now time.Time) error {
	t := s.prof.TLS
	if t == nil || t.Disabled {
		if t != nil && t.Disabled && (t.ClientCertPath != "" || len(t.ClientCertData) > 0) {
			return errors.New("TEMPORAL_TLS: is false but a client certificate is set; remove one of them")
		}
		return nil
	}
	certPEM, err := readPEM(t.ClientCertPath, t.ClientCertData)
	if err != nil {
		return fmt.Errorf("%s: %w", s.certSetting(), err)
	}
	keyPEM, err := readPEM(t.ClientKeyPath, t.ClientKeyData)
	if err != nil {
		return fmt.Errorf("%s: %w", s.keySetting(), err)
	}
	switch {
	case certPEM != nil && keyPEM == nil:
		return fmt.Errorf("TEMPORAL_TLS_CLIENT_KEY_PATH: not set, but %s is: a client certificate needs its key", s.certSetting())
	case certPEM == nil && keyPEM != nil:
		return fmt.Errorf("TEMPORAL_TLS_CLIENT_CERT_PATH: not set, but %s is: a key needs its certificate", s.keySetting())
	}
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			if _, perr := firstCert(certPEM); perr != nil {
				return fmt.Errorf("%s: %w", s.certSetting(), perr)
			}
			return fmt.Errorf("%s: %w (with the certificate of %s)", s.keySetting(), err, s.certSetting())
		}
		leaf := pair.Leaf // parsed by X509KeyPair
		switch {
		case now.After(leaf.NotAfter):
			return fmt.Errorf("%s: certificate expired on %s (subject %q)", s.certSetting(), leaf.NotAfter.UTC().Format(time.RFC3339), leaf.Subject.String())
		case now.Before(leaf.NotBefore):
			return fmt.Errorf("%s: certificate not valid until %s (subject %q)", s.certSetting(), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.Subject.String())
		}
		s.ClientCert = leaf
	}
	caPEM, err := readPEM(t.ServerCACertPath, t.ServerCACertData)
	if err != nil {
		return fmt.Errorf("%s: %w", s.caSetting(), err)
	}
	if caPEM != nil {
		if _, err := firstCert(caPEM); err != nil {
			return fmt.Errorf("%s: %w", s.caSetting(), err)
		}
	}
	// ToClientOptions takes the bytes read here rather than reading the
	// files a second time.
	if certPEM != nil {
		t.ClientCertPath, t.ClientCertData = "", certPEM
		t.ClientKeyPath, t.ClientKeyData = "", keyPEM
	}
	if caPEM != nil {
		t.ServerCACertPath, t.ServerCACertData = "", caPEM
	}
	return nil
}

// nonEmpty hides variables set to "".
type nonEmpty struct{ envconfig.EnvLookup }

func (e nonEmpty) LookupEnv(k string) (string, bool) {
	v, ok := e.EnvLookup.LookupEnv(k)
	if v == "" {
		return "", false
	}
	return v, ok
}

// readPEM reads a file or takes the data; nil when neither is set.
func readPEM(path string, data []byte) ([]byte, error) {
	if path != "" && len(data) > 0 {
		return nil, errors.New("set the _PATH or the _DATA variable, not both")
	}
	if len(data) > 0 {
		return data, nil
	}
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func firstCert(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("no PEM certificate in it")
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("bad certificate: %w", err)
			}
			return c, nil
		}
	}
}
