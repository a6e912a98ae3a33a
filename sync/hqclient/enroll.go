package hqclient

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/sync/wire"
)

// ErrWrongName: HQ's certificate does not cover the host name or address the
// client dialled. Enrollment refuses such an HQ before it sends the token,
// since every sync after it would fail the same way.
var ErrWrongName = errors.New("certificate does not match the address")

// EnrollTimeout bounds an enrollment exchange.
const EnrollTimeout = 30 * time.Second

// Enroll trades a one-time token and a certificate signing request (PEM) for
// the terminal's identity at the HQ at base (https://HOST:PORT). The TLS
// session trusts only the CA the token pins, and only a server certificate
// that covers HOST: otherwise it fails with ErrWrongName, saying which names
// the certificate covers and how to re-issue it, and the token is never sent.
func Enroll(ctx context.Context, base, token string, csrPEM []byte) (wire.EnrollResponse, error) {
	base = strings.TrimRight(base, "/")
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return wire.EnrollResponse{}, fmt.Errorf("HQ address %q: want https://HOST:PORT, as HQ's certificate names HOST", base)
	}
	_, pin, err := wire.SplitToken(token)
	if err != nil {
		return wire.EnrollResponse{}, err
	}
	c := New(base, Options{TLS: pki.PinnedTLS(pin, u.Hostname()), Timeout: EnrollTimeout})
	body, err := json.Marshal(wire.EnrollRequest{Token: token, CSR: string(csrPEM)})
	if err != nil {
		return wire.EnrollResponse{}, err
	}
	a, err := c.Do(ctx, Request{Method: http.MethodPost, Path: wire.PathEnroll, Body: bytes.NewReader(body), Limit: 1 << 20})
	var he x509.HostnameError
	if errors.As(err, &he) {
		return wire.EnrollResponse{}, &nameError{base: base, he: he}
	}
	if err != nil {
		return wire.EnrollResponse{}, fmt.Errorf("enroll at %s: %w", base, err)
	}
	var ans wire.EnrollResponse
	if err := a.JSON(&ans); err != nil {
		return wire.EnrollResponse{}, fmt.Errorf("enroll at %s: %w", base, err)
	}
	return ans, nil
}

// nameError is ErrWrongName with what the certificate covers; it unwraps to
// the x509.HostnameError, as Diagnose reads it.
type nameError struct {
	base string
	he   x509.HostnameError
}

func (e *nameError) Error() string        { return ErrWrongName.Error() + ": " + wrongName(e.base, e.he) }
func (e *nameError) Unwrap() error        { return e.he }
func (e *nameError) Is(target error) bool { return target == ErrWrongName }

// wrongName says which names a certificate covers, that the host dialled is
// not one, and the two ways out: dial a covered name, or re-issue HQ's
// certificate for this one too.
func wrongName(base string, he x509.HostnameError) string {
	var names []string
	if he.Certificate != nil {
		names = pki.Names(he.Certificate)
	}
	covers, other := "no name at all", ""
	if len(names) > 0 {
		covers = strings.Join(names, ", ")
		if u, err := url.Parse(base); err == nil {
			u.Host = joinHostPort(names[0], u.Port())
			other = " (" + u.String() + ")"
		}
	}
	var hosts strings.Builder
	for _, n := range append(names, he.Host) {
		fmt.Fprintf(&hosts, " --host %s", n)
	}
	return fmt.Sprintf("HQ's certificate covers %s, not %s. Reach HQ by a name it covers%s, "+
		"or re-issue HQ's certificate for this address too, at HQ: `tillhq cert --data /var/lib/tillhq%s`, then restart tillhq",
		covers, he.Host, other, hosts.String())
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}
