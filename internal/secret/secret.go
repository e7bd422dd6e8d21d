// Package secret makes the random bearer tokens handed to people (sign-up,
// invitation, reset and session tokens) and the hashes they are stored as,
// and judges the operator secrets given to the service (strength.go).
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// TokenBytes is the entropy of a token: 256 bits, over the 128 the contract asks.
const TokenBytes = 32

// NewToken returns a URL-safe random token and its hash.
func NewToken() (token, hash string) {
	b := make([]byte, TokenBytes)
	// crypto/rand.Read never returns an error on supported platforms.
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token)
}

// Hash returns the hex SHA-256 of a token. Tokens carry 256 random bits, so a
// fast unsalted hash is enough to make a stolen table useless.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Matches reports, in constant time, whether token hashes to hash.
func Matches(token, hash string) bool {
	h := Hash(token)
	return subtle.ConstantTimeCompare([]byte(h), []byte(hash)) == 1
}

// WellFormed reports whether s could be a token made by NewToken, so that
// lookups can skip obviously bad input.
func WellFormed(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(TokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
