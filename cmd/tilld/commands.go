package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/demo"
	"github.com/tilld/tilld/internal/gctune"
	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/version"
)

var defaultConfig = daemon.DefaultConfigFile

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "tilld",
		Short:         "tilld: the offline-first loyalty daemon of a point-of-sale terminal",
		Long:          "tilld: the offline-first loyalty daemon of a point-of-sale terminal.\n\n" + exitCodeHelp(),
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)

	var configFile string
	var over daemon.Config
	var clock func() func() time.Time // set with the flags below
	runCmd := &cobra.Command{
		Use:   "run",
		Short: "run the terminal daemon (what the systemd unit starts)",
		Long:  "Runs the terminal daemon (what the systemd unit starts) until SIGTERM or SIGINT.\n\n" + exitCodeHelp(),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile, over)
			if err != nil {
				return err
			}
			gctune.ForDaemon()
			d, err := daemon.New(cfg, daemon.Options{Logger: newLogger(stderr, cfg.LogLevel), Now: clock()})
			if err != nil {
				return err
			}
			return d.Run(cmd.Context())
		},
	}
	runCmd.Flags().StringVar(&configFile, "config", defaultConfig, "configuration file")
	clock = serve.ClockOffsetFlag(runCmd.Flags())
	runCmd.Flags().StringVar(&over.Terminal, "terminal", "", "override terminal")
	runCmd.Flags().StringVar(&over.DataDir, "data", "", "override data_dir")
	runCmd.Flags().StringVar(&over.Listen, "listen", "", "override listen")
	runCmd.Flags().StringVar(&over.HQ, "hq", "", "override hq")

	var demoListen string
	var verbose bool
	demoCmd := &cobra.Command{
		Use:   "demo",
		Short: "run HQ, a terminal with a fake reader and the till page on loopback",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.DiscardHandler)
			if verbose {
				log = newLogger(stderr, "info")
			}
			return demo.Run(cmd.Context(), demo.Options{Listen: demoListen, Out: stdout, Logger: log, Bin: demoBin()})
		},
	}
	demoCmd.Flags().StringVar(&demoListen, "listen", "", "local API address (default 127.0.0.1:7450, or a free port)")
	demoCmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log what the processes do")

	configCmd := &cobra.Command{Use: "config", Short: "configuration file tools"}
	configCmd.AddCommand(&cobra.Command{
		Use:   "check [FILE]",
		Short: "check a configuration file: unknown keys, bad values, readers",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			file := defaultConfig
			if len(args) == 1 {
				file = args[0]
			}
			cfg, err := loadConfig(file, daemon.Config{})
			if err != nil {
				return err
			}
			if id, err := daemon.LoadIdentity(cfg.DataDir); err == nil {
				cfg.Terminal, cfg.HQ, cfg.HQKey = cmp.Or(cfg.Terminal, id.Terminal), cmp.Or(cfg.HQ, id.HQ), cmp.Or(cfg.HQKey, id.RulesKey)
			}
			if err := cfg.Complete(); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			fmt.Fprintf(stdout, "%s: ok: terminal %s, %d readers, local API %s, HQ %s\n", file, cfg.Terminal, len(cfg.Readers), cfg.Listen, orNone(cfg.HQ))
			return nil
		},
	})
	var enrollHQ, enrollToken, enrollData string
	enrollCmd := &cobra.Command{
		Use:     "enroll",
		Short:   "join the chain: trade HQ's one-time token for this terminal's certificate",
		Example: `  tilld enroll --hq https://hq.example:7460 --token 'SECRET.FINGERPRINT'`,
		Long: "Join the chain: trade HQ's one-time token for this terminal's certificate. The connection trusts only\n" +
			"the CA the token pins, and only a certificate of HQ's that covers the host in --hq: otherwise nothing is\n" +
			"sent or written and the error names the names it covers.\n\n" + enrollExitHelp(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if enrollData == "" {
				enrollData = daemon.DefaultDataDir
				if cfg, err := loadConfig(configFile, daemon.Config{}); err == nil {
					enrollData = cfg.DataDir
				}
			}
			id, err := daemon.Enroll(cmd.Context(), enrollHQ, enrollToken, enrollData)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "enrolled as terminal %s of store %s at %s; certificate valid until %s\nidentity in %s/identity; start tilld (systemctl restart tilld)\n",
				id.Terminal, id.Store, id.HQ, id.NotAfter.Format("2006-01-02"), enrollData)
			return nil
		},
	}
	enrollCmd.Flags().StringVar(&enrollHQ, "hq", "", "HQ's terminal address, https://HOST:7460 (required)")
	enrollCmd.Flags().StringVar(&enrollToken, "token", "", "one-time token from `tillhq terminal add` (required)")
	enrollCmd.Flags().StringVar(&enrollData, "data", "", "data directory (default: data_dir of --config, else "+daemon.DefaultDataDir+")")
	enrollCmd.Flags().StringVar(&configFile, "config", defaultConfig, "configuration file")
	enrollCmd.MarkFlagRequired("hq")
	enrollCmd.MarkFlagRequired("token")
	root.AddCommand(runCmd, demoCmd, configCmd, enrollCmd)
	root.AddCommand(platformCommands()...)
	return root.ExecuteContext(ctx)
}

// enrollExitHelp lists `tilld enroll`'s exit statuses.
func enrollExitHelp() string {
	var b strings.Builder
	b.WriteString("Exit status: 0 when enrolled, 1 for any failure not listed here:\n")
	for _, c := range daemon.EnrollExitCodes {
		fmt.Fprintf(&b, "  %d  %s\n", c.Code, c.What)
	}
	return b.String()
}

// exitCodeHelp lists tilld's exit statuses for --help.
func exitCodeHelp() string {
	var b strings.Builder
	b.WriteString("Exit status: 0 after a clean stop; when tilld cannot start, one line on stderr says what failed,\nwhere and what to do, and the status says which class of failure it was:\n")
	for _, c := range daemon.ExitCodes {
		final := ""
		if c.Final {
			final = "; systemd does not restart"
		}
		fmt.Fprintf(&b, "  %3d  %s%s\n", c.Code, c.What, final)
	}
	b.WriteString("    1  anything else")
	return b.String()
}

// loadConfig reads the file and applies command-line overrides.
func loadConfig(file string, over daemon.Config) (daemon.Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return daemon.Config{}, fmt.Errorf("%w: %w", daemon.ErrConfig, err)
	}
	cfg, err := daemon.ParseConfig(data)
	if err != nil {
		return daemon.Config{}, fmt.Errorf("%s: %w", file, err)
	}
	if over.Terminal != "" {
		cfg.Terminal = over.Terminal
	}
	if over.DataDir != "" {
		cfg.DataDir = over.DataDir
	}
	if over.Listen != "" {
		cfg.Listen = over.Listen
	}
	if over.HQ != "" {
		cfg.HQ = over.HQ
	}
	return cfg, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	log := serve.NewLogger(w, l, os.Getenv("JOURNAL_STREAM"))
	if serviceLog != nil { // the event log, under Windows' service manager
		return slog.New(slog.NewMultiHandler(log.Handler(), serviceLog))
	}
	return log
}

func orNone(s string) string {
	if s == "" {
		return "none (stand-alone)"
	}
	return s
}

// demoBin is how the demo's welcome text names the directory of tillctl and
// tillhq: this tilld's, relative to the working directory when inside it
// ("bin" under `make demo`); "" when tillctl is not beside tilld (then PATH
// has them).
func demoBin() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	dir := filepath.Dir(exe)
	if _, err := os.Stat(filepath.Join(dir, "tillctl")); err != nil {
		return ""
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return rel
		}
	}
	return dir
}
