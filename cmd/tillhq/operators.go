package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// Where the CLI finds an operator's API token: TILLHQ_TOKEN, else the file
// TILLHQ_TOKEN_FILE names, else tokenFileName in the user's configuration
// directory (~/.config/tillhq/token). None: requests go without one, which a
// loopback HQ without operators accepts.
const (
	envToken     = "TILLHQ_TOKEN"
	envTokenFile = "TILLHQ_TOKEN_FILE"
	// envCA names HQ's CA certificate (DATA/ca.crt) for an https:// admin API.
	envCA         = "TILLHQ_CA"
	tokenFileName = "tillhq/token"
)

// tokenFile is where the CLI reads (and `user add --save-token` writes) the token.
func tokenFile() (string, error) {
	if f := os.Getenv(envTokenFile); f != "" {
		return f, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no token file: set %s or %s (%w)", envToken, envTokenFile, err)
	}
	return filepath.Join(dir, tokenFileName), nil
}

// apiToken returns the operator's API token, "" when there is none.
func apiToken() (string, error) {
	if t := strings.TrimSpace(os.Getenv(envToken)); t != "" {
		return t, nil
	}
	f, err := tokenFile()
	if err != nil {
		return "", nil
	}
	b, err := os.ReadFile(f)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if !strings.HasPrefix(t, hq.TokenPrefix) || strings.ContainsAny(t, " \t\r\n") {
		return "", fmt.Errorf("token file %s: not a tillhq API token (want one line starting %s)", f, hq.TokenPrefix)
	}
	return t, nil
}

// bearer adds the operator's token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(wire.HeaderAuthorization, "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// adminClient is a client of the admin API at base with the operator's
// token, trusting HQ's CA (TILLHQ_CA) for an https:// one.
func adminClient(base string, timeout time.Duration) (*hqclient.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if strings.HasPrefix(base, "https://") {
		conf := &tls.Config{MinVersion: tls.VersionTLS13}
		if f := os.Getenv(envCA); f != "" {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", envCA, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s=%s: no PEM certificate in it", envCA, f)
			}
			conf.RootCAs = pool
		}
		tr.TLSClientConfig = conf
	}
	var rt http.RoundTripper = tr
	tok, err := apiToken()
	if err != nil {
		return nil, err
	}
	if tok != "" {
		rt = bearer{token: tok, next: tr}
	}
	return hqclient.New(base, hqclient.Options{Timeout: timeout, Transport: rt}), nil
}

// directStore opens HQ's store itself (not through a running tillhq): the
// PostgreSQL database, or DATA/hq.db, which a running tillhq holds locked.
func directStore(ctx context.Context, dataDir, postgres string) (hq.OperatorStore, func() error, error) {
	s, err := openStore(ctx, dataDir, postgres)
	if err != nil {
		if postgres == "" {
			err = fmt.Errorf("%w; or leave out --data and go through its admin API", err)
		}
		return nil, nil, err
	}
	return s.(hq.OperatorStore), s.Close, nil
}

// openStore opens HQ's store itself: the bbolt file in dataDir (tillhq
// stopped: serve holds it) or the PostgreSQL database at postgres.
func openStore(ctx context.Context, dataDir, postgres string) (hq.Store, error) {
	var s hq.Store
	var err error
	if postgres != "" {
		s, err = pgstore.Open(ctx, postgres, pgstore.Options{})
	} else {
		s, err = boltstore.Open(filepath.Join(dataDir, "hq.db"), boltstore.Options{})
		if err != nil {
			err = fmt.Errorf("%w (is tillhq serve running? it holds the file: stop it first)", err)
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func userCmd(stdout io.Writer, stdin io.Reader) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "HQ's operators: add, list, disable"}
	var adminURL, dataDir, postgres string
	var req wire.AddUserRequest
	var passwordStdin, saveToken bool
	add := &cobra.Command{
		Use:   "add NAME --role admin|marketing|analyst|support",
		Short: "add an operator; prints their password (unless given) and an API token, once",
		Long: `Add an operator. Through the running HQ's admin API (an admin's token, or none while HQ has
no operator and listens on loopback: that is how the first admin is made), or with --data
(the bbolt store, tillhq stopped) or --postgres directly on the store.
The password is read from stdin with --password-stdin, else made up and printed. The API
token is printed, and with --save-token written to the token file the CLI reads.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if passwordStdin {
				line, err := bufio.NewReader(stdin).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return err
				}
				req.Password = strings.TrimRight(line, "\r\n")
			}
			var ans wire.AddUserResponse
			if dataDir != "" || postgres != "" {
				st, closeStore, err := directStore(cmd.Context(), dataDir, postgres)
				if err != nil {
					return err
				}
				defer closeStore()
				if ans, err = hq.AddOperator(cmd.Context(), st, req, time.Now()); err != nil {
					return err
				}
				// Straight on the store, so the admin log is written here.
				if _, err := st.AppendAdminLog(cmd.Context(), hq.AdminEntry{At: time.Now(), Operator: "(tillhq user add on the store)", Action: "POST " + wire.PathAdminUsers,
					Target: req.Name, Detail: "role " + req.Role, Remote: "local", Outcome: "ok", Status: http.StatusCreated}); err != nil {
					return err
				}
			} else {
				body, _ := json.Marshal(req)
				if err := doJSON(cmd.Context(), adminURL, hqclient.Request{Method: http.MethodPost, Path: wire.PathAdminUsers, Body: bytes.NewReader(body)}, &ans); err != nil {
					return err
				}
			}
			fmt.Fprintf(stdout, "operator %s (%s) added\n", ans.Name, ans.Role)
			if ans.Password != "" {
				fmt.Fprintf(stdout, "password (shown once): %s\n", ans.Password)
			}
			if saveToken {
				f, err := tokenFile()
				if err != nil {
					return err
				}
				if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
					return err
				}
				if err := os.WriteFile(f, []byte(ans.Token+"\n"), 0o600); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "API token saved to %s\n", f)
			}
			fmt.Fprintf(stdout, "API token (shown once; tillhq reads %s or its token file):\n%s\n", envToken, ans.Token)
			return nil
		},
	}
	add.Flags().StringVar(&req.Role, "role", "", "admin (operators, terminals), marketing (rules), analyst (reports) or support (customers)")
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	add.Flags().BoolVar(&saveToken, "save-token", false, "write the API token to the token file ("+envTokenFile+", else ~/.config/"+tokenFileName+")")
	add.Flags().StringVar(&dataDir, "data", "", "add the operator straight to the bbolt store in this data directory (tillhq serve stopped)")
	add.Flags().StringVar(&postgres, "postgres", "", "add the operator straight to this PostgreSQL store")
	add.MarkFlagRequired("role")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "list the operators",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var us wire.Users
			if err := doJSON(cmd.Context(), adminURL, hqclient.Request{Path: wire.PathAdminUsers}, &us); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(us)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tDISABLED")
			for _, u := range us.Users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Created, u.Disabled)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "disable an operator: their tokens and sessions stop working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := hqclient.Request{Method: http.MethodPost, Path: wire.PathAdminUsers + "/" + url.PathEscape(args[0]) + wire.PathAdminUserDisable}
			if err := doJSON(cmd.Context(), adminURL, r, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "operator %s disabled\n", args[0])
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&adminURL, "admin", defaultAdmin, "HQ's admin API")
	cmd.AddCommand(add, list, disable)
	return cmd
}

// revokeCmd is `tillhq terminal revoke`.
func revokeCmd(stdout io.Writer, adminURL *string) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke TERMINAL",
		Short: "revoke a terminal: HQ refuses its certificate from now on, on every replica",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ans wire.RevokeResponse
			r := hqclient.Request{Method: http.MethodPost, Path: wire.PathAdminTerminals + "/" + url.PathEscape(args[0]) + wire.PathAdminRevoke}
			if err := doJSON(cmd.Context(), *adminURL, r, &ans); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "terminal %s revoked at %s by %s: HQ refuses its certificate; enroll the till again under a new terminal id\n", ans.Terminal, ans.At, ans.By)
			return nil
		},
	}
}

// adminLogCmd is `tillhq report admin-log`.
func adminLogCmd(stdout io.Writer, hqURL *string, asJSON *bool) *cobra.Command {
	var after int64
	var limit int
	cmd := &cobra.Command{
		Use:   "admin-log",
		Short: "the admin log: who did what, when, from where; and whether its hash chain is intact",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lg wire.AdminLog
			if err := doJSON(cmd.Context(), *hqURL, hqclient.Request{Path: fmt.Sprintf("%s?after=%d&limit=%d", wire.PathAdminLog, after, limit)}, &lg); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(lg)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tAT\tOPERATOR\tROLE\tACTION\tTARGET\tOUTCOME\tFROM\tDETAIL")
			for _, e := range lg.Entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s %d\t%s\t%s\n", e.Seq, e.At, e.Operator, e.Role, e.Action, e.Target, e.Outcome, e.Status, e.Remote, e.Detail)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if !lg.Verified {
				return fmt.Errorf("the admin log's hash chain is BROKEN: %s", lg.Broken)
			}
			fmt.Fprintln(stdout, "hash chain intact")
			return nil
		},
	}
	cmd.Flags().Int64Var(&after, "after", 0, "entries after this position")
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many entries (1 to 10000)")
	return cmd
}

// checkAdminAddr checks where the admin API may listen: on loopback, or
// anywhere over TLS (where every request then needs an operator's
// credential). It reports whether addr is loopback.
func checkAdminAddr(addr string, withTLS bool) (loopback bool, err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--admin %q: want HOST:PORT: %w", addr, err)
	}
	if serve.Loopback(host) {
		return true, nil
	}
	if !withTLS {
		return false, fmt.Errorf("--admin %q: the admin API listens beyond loopback only over TLS, with every request "+
			"authenticated: add --admin-tls (operators then need an API token or a session), or use 127.0.0.1:PORT", addr)
	}
	return false, nil
}

// adminTLSConfig is HQ's TLS configuration for the admin API: its
// certificate, and no client certificate asked for (operators authenticate
// with tokens and sessions).
func adminTLSConfig(terminals *tls.Config) *tls.Config {
	c := terminals.Clone()
	c.ClientAuth, c.ClientCAs = tls.NoClientCert, nil
	return c
}
