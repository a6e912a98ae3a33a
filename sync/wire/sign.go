package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// HeaderRulesSignature carries the base64 Ed25519 signature of a ruleset.
const HeaderRulesSignature = "Tilld-Rules-Signature"

// Errors of VerifyRules.
var (
	ErrUnsigned     = errors.New("ruleset is not signed")
	ErrBadSignature = errors.New("ruleset signature does not verify with HQ's key")
)

// rulesDomain separates ruleset signatures from anything else the key might sign.
const rulesDomain = "tilld ruleset v1\x00"

// SignRules signs a ruleset file as published, byte for byte.
func SignRules(key ed25519.PrivateKey, raw []byte) []byte {
	return ed25519.Sign(key, append([]byte(rulesDomain), raw...))
}

// VerifyRules checks a ruleset's signature with HQ's public key.
func VerifyRules(pub ed25519.PublicKey, raw, sig []byte) error {
	if len(sig) == 0 {
		return ErrUnsigned
	}
	if !ed25519.Verify(pub, append([]byte(rulesDomain), raw...), sig) {
		return ErrBadSignature
	}
	return nil
}

// ParsePublicKey reads an Ed25519 public key written as base64 (standard or URL
// alphabet, padding optional), the form `tillhq init` prints.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("public key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
			}
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, fmt.Errorf("public key %q: not base64", s)
}

// FormatPublicKey writes a public key the way ParsePublicKey reads it.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}
