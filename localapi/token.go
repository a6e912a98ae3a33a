package localapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tilld/tilld/internal/durable"
)

// TokenFile is the name of the API token's file in tilld's data directory.
const TokenFile = "api.token"

// tokenMode lets tilld's user write the token and its group read it: the POS
// app's user and store IT join the group (tilld in the package) to get it.
const tokenMode = 0o640

// EnsureToken returns the API token kept in dir's TokenFile, creating it when
// it is missing, and replacing it when every user could read it (a token
// others may have copied is no proof). The file is written whole before it
// appears, so a reader never sees half a token.
func EnsureToken(dir string) (string, error) {
	path := filepath.Join(dir, TokenFile)
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode().Perm()&0o007 == 0):
		if tok, err := ReadToken(path); err == nil {
			return tok, nil
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("api token: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	tok := hex.EncodeToString(b)
	if err := durable.WriteFile(path, []byte(tok+"\n"), tokenMode); err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	return tok, nil
}

// ReadToken reads an API token file.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the API token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "", fmt.Errorf("read the API token: %s does not hold a token", path)
	}
	return tok, nil
}
