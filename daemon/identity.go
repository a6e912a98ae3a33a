package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tilld/tilld/internal/durable"
	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// Identity is what enrollment gave this terminal: its id and store, HQ's address
// and rules key, its certificate and key, and HQ's CA. It lives in
// DATA_DIR/identity/, written by `tilld enroll`.
type Identity struct {
	Terminal string `json:"terminal"`
	Store    string `json:"store"`
	HQ       string `json:"hq"`
	RulesKey string `json:"rules_key"`

	TLS      *tls.Config `json:"-"`
	NotAfter time.Time   `json:"-"`
}

// identity files inside the data directory.
const (
	identityDir  = "identity"
	identityFile = "enrollment.json"
	certFile     = "terminal.crt"
	keyFile      = "terminal.key"
	caFile       = "hq-ca.crt"
)

// ErrNotEnrolled: the data directory holds no identity.
var ErrNotEnrolled = errors.New("terminal not enrolled")

// LoadIdentity reads the identity in dataDir; ErrNotEnrolled when there is none.
func LoadIdentity(dataDir string) (*Identity, error) {
	dir := filepath.Join(dataDir, identityDir)
	raw, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, err
	}
	var id Identity
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, identityFile), err)
	}
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	certPEM, err := read(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := read(keyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := read(caFile)
	if err != nil {
		return nil, err
	}
	cert, err := pki.DecodeCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	key, err := pki.DecodeKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	ca, err := pki.DecodeCert(caPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", caFile, err)
	}
	id.TLS = pki.ClientTLS(ca, cert, key)
	id.NotAfter = cert.NotAfter
	return &id, nil
}

// Enroll trades a one-time token for this terminal's identity at HQ and writes
// it into dataDir. It refuses to overwrite an existing identity.
func Enroll(ctx context.Context, hqURL, token, dataDir string) (*Identity, error) {
	hqURL = strings.TrimRight(hqURL, "/")
	if !strings.HasPrefix(hqURL, "https://") {
		return nil, fmt.Errorf("enroll: HQ address %q must be https://", hqURL)
	}
	dir := filepath.Join(dataDir, identityDir)
	if _, err := os.Stat(filepath.Join(dir, identityFile)); err == nil {
		return nil, fmt.Errorf("enroll: %s already holds an identity; move it aside to enroll again", dir)
	}
	if _, _, err := wire.SplitToken(token); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	csr, err := pki.NewCSR(key)
	if err != nil {
		return nil, err
	}
	ans, err := hqclient.Enroll(ctx, hqURL, token, pemCSR(csr))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	idJSON, _ := json.MarshalIndent(Identity{Terminal: ans.Terminal, Store: ans.Store, HQ: hqURL, RulesKey: ans.RulesKey}, "", "  ")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The identity file goes last: its presence means the rest is complete.
	for _, f := range []struct {
		name string
		data []byte
	}{{keyFile, keyPEM}, {certFile, []byte(ans.Certificate)}, {caFile, []byte(ans.CA)}, {identityFile, idJSON}} {
		if err := durable.WriteFile(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return nil, fmt.Errorf("enroll: %w", err)
		}
	}
	return LoadIdentity(dataDir)
}

func pemCSR(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
