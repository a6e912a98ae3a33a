package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/doctor"
	"github.com/tilld/tilld/localapi"
)

// conn is how tillctl reaches tilld: the local API's address and the file of
// its token, which tilld writes in its data directory for its user and group.
type conn struct {
	addr      string
	tokenFile string // --token-file or TILLD_TOKEN_FILE; empty: tilld's data_dir
	config    string // tilld's configuration, for its data_dir
}

// tokenPath is where the token is: the file named, else api.token in the
// data_dir of tilld's configuration (default /var/lib/tilld).
func (c *conn) tokenPath() string {
	if c.tokenFile != "" {
		return c.tokenFile
	}
	dir := daemon.DefaultDataDir
	if raw, err := os.ReadFile(c.config); err == nil {
		if cfg, err := daemon.ParseConfig(raw); err == nil {
			dir = cfg.DataDir
		}
	}
	return filepath.Join(dir, localapi.TokenFile)
}

// client returns an API client with the token when tillctl can read it;
// without it, tilld answers the calls that need it with 401, and tokenHint
// says why.
func (c *conn) client() *localapi.Client {
	cl := localapi.NewClient(c.addr)
	cl.Token, _ = localapi.ReadToken(c.tokenPath())
	return cl
}

// tokenHint explains a 401: where tillctl looked for the token and why it
// could not read it.
func (c *conn) tokenHint() string {
	path := c.tokenPath()
	_, err := localapi.ReadToken(path)
	switch {
	case err == nil:
		return fmt.Sprintf("the token in %s is not the running tilld's: restart tilld or point --token-file (TILLD_TOKEN_FILE) at its data directory's %s", path, localapi.TokenFile)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("%s is readable by root and group %s only: run tillctl with sudo, or add yourself to the group (sudo adduser $USER %s, then log in again)", path, doctor.ServiceUser, doctor.ServiceUser)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("no token at %s: tilld writes it when it starts; give tilld's data directory's %s with --token-file (TILLD_TOKEN_FILE)", path, localapi.TokenFile)
	}
	return err.Error()
}
