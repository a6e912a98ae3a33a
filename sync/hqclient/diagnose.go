package hqclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tilld/tilld/pki"
)

// Problem is the kind of reason a call to HQ failed, as far as the fix differs.
type Problem string

// The problems Diagnose tells apart.
const (
	// Unreachable: no answer from HQ: the network, the address, or HQ down.
	Unreachable Problem = "HQ unreachable"
	// WrongName: HQ's certificate does not cover the address dialled.
	WrongName Problem = "certificate does not match"
	// Untrusted: HQ's certificate is not from the CA this till trusts, or
	// HQ refused this till's certificate.
	Untrusted Problem = "certificate not trusted"
	// Refused: HQ answered, with an error.
	Refused Problem = "HQ refused"
)

// Diagnosis is why a call to HQ failed, for the person who has to fix it.
type Diagnosis struct {
	Problem Problem
	Detail  string // what happened
	Fix     string // what to do
}

// String is the diagnosis on one line: "certificate does not match: HQ's certificate covers ...".
func (d Diagnosis) String() string { return string(d.Problem) + ": " + d.Detail }

// Diagnose says why a call to the HQ at base failed with err (not nil).
func Diagnose(base string, err error) Diagnosis {
	var (
		he     x509.HostnameError
		ua     x509.UnknownAuthorityError
		ci     x509.CertificateInvalidError
		alert  tls.AlertError
		status *StatusError
	)
	switch {
	case errors.As(err, &he):
		return Diagnosis{Problem: WrongName, Detail: wrongName(base, he),
			Fix: "set hq in tilld.toml (or enroll again) with an address HQ's certificate covers, or re-issue the certificate at HQ as said."}
	case errors.As(err, &ua), errors.Is(err, pki.ErrNotPinned):
		return Diagnosis{Problem: Untrusted, Detail: fmt.Sprintf("the server at %s is not the HQ this till was enrolled with (its certificate is not from HQ's CA): %v", base, cause(err)),
			Fix: "check the hq address; if HQ was set up anew (tillhq init), enroll the till again with a new token (`tillhq terminal add`)."}
	case errors.As(err, &ci):
		return Diagnosis{Problem: Untrusted, Detail: fmt.Sprintf("HQ's certificate at %s is not valid: %v", base, cause(err)),
			Fix: "check this till's clock (`timedatectl`); if it is right, HQ's certificate needs re-issuing at HQ (`tillhq cert`)."}
	case errors.As(err, &alert):
		return Diagnosis{Problem: Untrusted, Detail: fmt.Sprintf("HQ at %s refused this till's certificate: %v", base, cause(err)),
			Fix: "the certificate may have expired or be from another HQ: `tillctl doctor` shows its days left; enroll again with a new token (`tillhq terminal add`)."}
	case errors.As(err, &status):
		d := Diagnosis{Problem: Refused, Detail: fmt.Sprintf("%s (%s)", status.Error(), base), Fix: "HQ is reachable but refuses: tell HQ's staff. The till keeps selling and forwards its sales later."}
		if status.Status == http.StatusUnauthorized || status.Status == http.StatusForbidden {
			d.Fix = "HQ does not accept this till's certificate for this: enroll the till again with a new token (`tillhq terminal add`)."
		}
		return d
	}
	return Diagnosis{Problem: Unreachable, Detail: fmt.Sprintf("no answer from %s: %v", base, cause(err)),
		Fix: "check the network and the hq address (tilld.toml, or the enrollment's); the till keeps selling offline and forwards its sales once HQ answers."}
}

// cause drops net/http's `Get "URL":` prefix, which repeats the address.
func cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
