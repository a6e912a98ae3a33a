package wire

import (
	"errors"
	"strings"
)

// An enrollment token is "SECRET.FINGERPRINT": HQ keeps only the secret's
// hash and uses the token once; the terminal pins HQ's CA with the fingerprint
// (the hex SHA-256 of the CA certificate, pki.Fingerprint) before it sends
// anything. Both sides read it here, so neither imports the other.

// ErrMalformedToken: a token is not SECRET.FINGERPRINT.
var ErrMalformedToken = errors.New("malformed enrollment token: want SECRET.FINGERPRINT as `tillhq terminal add` prints it")

// JoinToken makes the token handed to store IT from its secret and the
// fingerprint of HQ's CA.
func JoinToken(secret, fingerprint string) string { return secret + "." + fingerprint }

// SplitToken separates a token into its secret and the CA fingerprint it pins.
func SplitToken(token string) (secret, fingerprint string, err error) {
	secret, fingerprint, ok := strings.Cut(strings.TrimSpace(token), ".")
	if !ok || secret == "" || len(fingerprint) != 64 || strings.Trim(strings.ToLower(fingerprint), "0123456789abcdef") != "" {
		return "", "", ErrMalformedToken
	}
	return secret, strings.ToLower(fingerprint), nil
}
