package hq

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/sync/wire"
)

// Errors of enrollment tokens.
var (
	ErrTokenUnknown = errors.New("enrollment token unknown")
	ErrTokenUsed    = errors.New("enrollment token already used")
	ErrTokenExpired = errors.New("enrollment token expired")
)

// Token is a one-time enrollment token as HQ keeps it: only its hash.
type Token struct {
	Hash     string    `json:"hash"`
	Terminal string    `json:"terminal"`
	Store    string    `json:"store"`
	Expires  time.Time `json:"expires"`
	UsedAt   time.Time `json:"used_at,omitzero"`
}

// TokenStore keeps enrollment tokens. Safe for concurrent use.
type TokenStore interface {
	// AddToken stores a new token.
	AddToken(ctx context.Context, t Token) error
	// UseToken marks the token with this hash used at now and returns it, in one
	// transaction: of two concurrent uses, one gets ErrTokenUsed. Unknown →
	// ErrTokenUnknown; past its expiry → ErrTokenExpired.
	UseToken(ctx context.Context, hash string, now time.Time) (Token, error)
}

// TokenHash is how a token's secret is stored.
func TokenHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// AddTerminal makes a one-time enrollment token for a terminal of a store. The
// token is "<secret>.<CA fingerprint>": the terminal pins HQ's CA with it.
func (s *Server) AddTerminal(ctx context.Context, store, terminal string, ttl time.Duration) (string, error) {
	if s.opts.CA == nil {
		return "", errors.New("add terminal: HQ has no CA (run tillhq init)")
	}
	if !idPattern.MatchString(store) || !idPattern.MatchString(terminal) {
		return "", fmt.Errorf("add terminal: store and terminal ids are 1-64 letters, digits, '.', '_' or '-' (got %q, %q)", store, terminal)
	}
	ts, ok := s.opts.Store.(TokenStore)
	if !ok {
		return "", errors.New("add terminal: this store keeps no enrollment tokens")
	}
	if err := s.checkNotRevoked(ctx, terminal); err != nil {
		return "", err
	}
	var b [24]byte
	rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	err := ts.AddToken(ctx, Token{Hash: TokenHash(secret), Terminal: terminal, Store: store, Expires: s.opts.Now().Add(ttl)})
	if err != nil {
		return "", fmt.Errorf("add terminal %s: %w", terminal, err)
	}
	return wire.JoinToken(secret, pki.Fingerprint(s.opts.CA.Cert)), nil
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "enroll body: "+err.Error())
		return
	}
	ts, ok := s.opts.Store.(TokenStore)
	if s.opts.CA == nil || !ok {
		wire.WriteError(w, http.StatusNotImplemented, "no_enrollment", "this HQ does not enroll terminals")
		return
	}
	secret, _, err := wire.SplitToken(req.Token)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_token", err.Error())
		return
	}
	block, _ := pem.Decode([]byte(req.CSR))
	if block == nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_csr", "csr: not PEM")
		return
	}
	// The CSR is checked before the token is used: a request that cannot
	// be signed must leave the one-time token for a good one.
	if err := checkCSR(block.Bytes); err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_csr", err.Error())
		return
	}
	tok, err := ts.UseToken(r.Context(), TokenHash(secret), s.opts.Now())
	if err == nil {
		err = s.checkNotRevoked(r.Context(), tok.Terminal)
	}
	switch {
	case errors.Is(err, ErrTerminalRevoked):
		s.log.Warn("enrollment of a revoked terminal refused", "err", err, "remote", r.RemoteAddr)
		wire.WriteError(w, http.StatusForbidden, wire.CodeRevoked, err.Error())
		return
	case errors.Is(err, ErrTokenUnknown), errors.Is(err, ErrTokenUsed), errors.Is(err, ErrTokenExpired):
		s.log.Warn("enrollment refused", "err", err, "remote", r.RemoteAddr)
		wire.WriteError(w, http.StatusForbidden, "token_refused", err.Error()+": ask HQ for a new one (tillhq terminal add)")
		return
	case err != nil:
		s.log.Error("use enrollment token", "err", err)
		wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot enroll right now")
		return
	}
	cert, err := s.opts.CA.SignTerminal(block.Bytes, tok.Terminal, tok.Store, s.opts.Now(), s.opts.CertValidity)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_csr", err.Error())
		return
	}
	s.log.Info("terminal enrolled", "terminal", tok.Terminal, "store", tok.Store, "expires", cert.NotAfter)
	wire.WriteJSON(w, http.StatusOK, wire.EnrollResponse{
		Terminal:    tok.Terminal,
		Store:       tok.Store,
		Certificate: string(pki.EncodeCert(cert)),
		CA:          string(pki.EncodeCert(s.opts.CA.Cert)),
		RulesKey:    wire.FormatPublicKey(s.opts.SigningKey.Public().(ed25519.PublicKey)),
	})
}

// checkCSR reports what keeps a certificate request from being signed:
// DER that is not a CSR, or a signature its own key does not verify.
func checkCSR(der []byte) error {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return fmt.Errorf("csr: signature: %w", err)
	}
	return nil
}

// TerminalOf returns the terminal a request's verified client certificate names,
// or "" when it carries none.
func TerminalOf(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return ""
	}
	return r.TLS.VerifiedChains[0][0].Subject.CommonName
}

// requireTerminal wraps a terminal-facing handler: when HQ requires client
// certificates, a request without a verified one is refused.
func (s *Server) requireTerminal(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.RequireClientCert && TerminalOf(r) == "" {
			wire.WriteError(w, http.StatusUnauthorized, "no_certificate", "a terminal certificate is required: enroll the terminal (tilld enroll)")
			return
		}
		if s.refuseRevoked(w, r) {
			return
		}
		h(w, r)
	}
}
