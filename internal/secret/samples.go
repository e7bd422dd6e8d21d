package secret

import "strings"

// isSample reports whether v is one of the secrets the repository shows as
// examples or uses in its fixtures: anyone can read them, so they protect
// nothing. Low-entropy examples ("change-me") need no entry, Bits refuses
// them; every high-entropy one does. TestRepositorySamplesAreRefused scans
// the repository's tracked files for assignments of ADMIN_TOKEN, CODEC_TOKEN
// and PAYLOAD_ENCRYPTION_KEYS and fails until each value found is refused,
// so an example added later (a compose file, .env.example, Helm values, the
// README) must be listed here.
func isSample(v string) bool {
	v = strings.TrimSpace(v)
	switch v {
	case
		// docker-compose.yml's payload key before it read the key from the
		// environment (k1:…), and its key alone.
		"k1:mjTz0dHk7wXrkK8Yb6nZgYw6yqW1o3tB5uE2rP9sVhA=",
		"mjTz0dHk7wXrkK8Yb6nZgYw6yqW1o3tB5uE2rP9sVhA=",
		// workflows/testdata/payload-keys: the key the recorded histories
		// are sealed with.
		"testdata:aJPPpE86YwCAFmNoTZgRJWGPr0rqS0y+9vWY1Nuh9UI=",
		"aJPPpE86YwCAFmNoTZgRJWGPr0rqS0y+9vWY1Nuh9UI=",
		// .env.example's placeholders: weak already, but the message
		// should say they were copied, not that they are short.
		"replace-me-with-onboarding-keygen-token",
		"k1:replace-me-with-onboarding-keygen",
		"replace-me-with-onboarding-keygen":
		return true
	}
	return false
}
