package main

import (
	"crypto/tls"
	"time"

	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/tilld/tilld/internal/durable"
	"github.com/tilld/tilld/pki"
	"io/fs"
	"os"
	"path/filepath"
)

// signingKeyFile is the rules-signing key inside HQ's data directory.
const signingKeyFile = "rules-signing.key"

// createSigningKey makes a new Ed25519 key in dir; it never overwrites one.
func createSigningKey(dir string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, signingKeyFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists: this HQ is initialised already (its terminals trust that key)", path)
	}
	if err != nil {
		return nil, err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return pub, f.Close()
}

// loadSigningKey reads the rules-signing key of an initialised data directory.
func loadSigningKey(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, signingKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is missing: initialise HQ first with `tillhq init --data %s`", path, dir)
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return priv, nil
}

// Files of HQ's certificate authority and its TLS certificate in the data directory.
const (
	caCertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	serverCertFile = "hq.crt"
	serverKeyFile  = "hq.key"
)

// createPKI makes HQ's CA and its server certificate for hosts.
func createPKI(dir string, hosts []string) (*pki.CA, error) {
	now := time.Now()
	ca, err := pki.NewCA("tilld HQ CA", now)
	if err != nil {
		return nil, err
	}
	cert, key, err := ca.ServerCert(hosts, now)
	if err != nil {
		return nil, err
	}
	caKey, err := pki.EncodeKey(ca.Key)
	if err != nil {
		return nil, err
	}
	srvKey, err := pki.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	return ca, writeFiles(dir, []namedFile{{caKeyFile, caKey}, {caCertFile, pki.EncodeCert(ca.Cert)}, {serverKeyFile, srvKey}, {serverCertFile, pki.EncodeCert(cert)}})
}

// loadPKI reads HQ's CA and its TLS configuration.
func loadPKI(dir string) (*pki.CA, *tls.Config, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing: initialise HQ first with `tillhq init --data %s`", filepath.Join(dir, name), dir)
		}
		return b, err
	}
	var blobs [4][]byte
	for i, name := range []string{caCertFile, caKeyFile, serverCertFile, serverKeyFile} {
		b, err := read(name)
		if err != nil {
			return nil, nil, err
		}
		blobs[i] = b
	}
	caCert, err := pki.DecodeCert(blobs[0])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", caCertFile, err)
	}
	caKey, err := pki.DecodeKey(blobs[1])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", caKeyFile, err)
	}
	srvCert, err := pki.DecodeCert(blobs[2])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", serverCertFile, err)
	}
	srvKey, err := pki.DecodeKey(blobs[3])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", serverKeyFile, err)
	}
	return &pki.CA{Cert: caCert, Key: caKey}, pki.ServerTLS(caCert, srvCert, srvKey), nil
}

// reissueServerCert makes HQ a new TLS certificate for hosts from its
// existing CA, so enrolled terminals and outstanding tokens (which pin the
// CA) keep working. It returns the names the old certificate covered.
func reissueServerCert(dir string, hosts []string) (old []string, err error) {
	ca, _, err := loadPKI(dir)
	if err != nil {
		return nil, err
	}
	if raw, err := os.ReadFile(filepath.Join(dir, serverCertFile)); err == nil {
		if c, err := pki.DecodeCert(raw); err == nil {
			old = pki.Names(c)
		}
	}
	cert, key, err := ca.ServerCert(hosts, time.Now())
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	// The key first: a crash between the two leaves the old certificate
	// with a key that does not match, which serve reports, rather than a
	// new certificate served with the old key.
	return old, writeFiles(dir, []namedFile{{serverKeyFile, keyPEM}, {serverCertFile, pki.EncodeCert(cert)}})
}

type namedFile struct {
	name string
	data []byte
}

// writeFiles writes HQ's key and certificate files into dir, in order, each
// whole or not at all, readable by HQ's user only.
func writeFiles(dir string, files []namedFile) error {
	for _, f := range files {
		if err := durable.WriteFile(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
