package store

import "net/url"

// Redact is DATABASE_URL as it may be printed: its password, if any,
// replaced by xxxxx. Anything that is not a URL with a password comes back
// unchanged.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
