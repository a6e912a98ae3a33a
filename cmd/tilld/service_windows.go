package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/daemon/winsvc"
	"github.com/tilld/tilld/internal/sysdirs"
)

// serviceLog, when set, gets every log record as well (the event log, when
// tilld runs as a service).
var serviceLog slog.Handler

// serviceRun is `tilld service run --config FILE`, the service's command line:
// tilld under the service control manager, logging to
// %ProgramData%\tilld\log\tilld.log and, from warnings up, to the event log.
// (The command line says so rather than svc.IsWindowsService guessing from
// the parent process, which wine's services.exe does not satisfy.)
func serviceRun(ctx context.Context, config string) error {
	var out io.Writer = io.Discard
	if err := os.MkdirAll(sysdirs.LogDir, 0o700); err == nil {
		if f, err := os.OpenFile(filepath.Join(sysdirs.LogDir, "tilld.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
			defer f.Close()
			out = f
		}
	}
	elog := winsvc.OpenEventLog()
	if elog != nil {
		defer elog.Close()
		serviceLog = winsvc.EventHandler(elog, slog.LevelWarn)
	}
	return winsvc.Run(func(svcCtx context.Context) winsvc.Exit {
		err := run(svcCtx, []string{"run", "--config", config}, out, out)
		if err == nil {
			return winsvc.Exit{}
		}
		fmt.Fprintln(out, "tilld:", err)
		if elog != nil {
			_ = elog.Error(1, "tilld: "+err.Error())
		}
		code := daemon.ExitCodeOf(err)
		return winsvc.Exit{Code: code, Final: isFinal(code)}
	}, elog)
}

func isFinal(code int) bool {
	for _, c := range daemon.ExitCodes {
		if c.Code == code {
			return c.Final
		}
	}
	return false
}

// platformCommands: `tilld service install|remove`, for store IT (the .msi
// runs them too).
func platformCommands() []*cobra.Command {
	cmd := &cobra.Command{Use: "service", Short: "install or remove tilld as a Windows service"}
	var config, template string
	var manual bool
	install := &cobra.Command{
		Use:   "install",
		Short: "register the tilld service (automatic start, restart on failure) and secure its directories",
		Long: `Registers the service "tilld" to run ` + "`tilld.exe service run --config FILE`" + ` as LocalSystem, started
at boot (delayed), restarted by the service control manager after a failure
(5 s, 10 s, then every 30 s), but not after a failure a restart cannot fix (a
wrong configuration, a till not enrolled). Its event log source is "tilld".

It creates ` + sysdirs.Root + ` and its data and log directories and sets their
ACLs: the data (ledger, keys, API token) and the logs to SYSTEM and the
Administrators only; the configuration readable by local users too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			if err := SecureDirs(); err != nil {
				return err
			}
			if template != "" {
				if err := copyIfMissing(template, config); err != nil {
					return err
				}
			}
			if err := winsvc.Install(winsvc.InstallOptions{Exe: exe, Args: []string{"service", "run", "--config", config}, Manual: manual,
				Warn: func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), "tilld: warning:", msg) }}); err != nil {
				return err
			}
			if err := winsvc.AddToPath(filepath.Dir(exe)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "service %s installed: %s service run --config %s\n", winsvc.Name, exe, config)
			return nil
		},
	}
	install.Flags().StringVar(&config, "config", daemon.DefaultConfigFile, "configuration file the service runs with")
	install.Flags().BoolVar(&manual, "manual", false, "start by hand, not at boot")
	install.Flags().StringVar(&template, "config-template", "", "copy this file to the configuration file when that is missing (the .msi's tilld.toml.example)")
	var timeout time.Duration
	var purge bool
	remove := &cobra.Command{
		Use:   "remove",
		Short: "stop and remove the tilld service; the configuration and data stay unless --purge",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := winsvc.Remove(timeout); err != nil && !purge {
				return err
			}
			if exe, err := os.Executable(); err == nil {
				if err := winsvc.RemoveFromPath(filepath.Dir(exe)); err != nil {
					return err
				}
			}
			if !purge {
				fmt.Fprintf(cmd.OutOrStdout(), "service %s removed; %s stays\n", winsvc.Name, sysdirs.Root)
				return nil
			}
			if err := removeTree(sysdirs.Root); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "service %s removed, and %s with the ledger, keys and configuration\n", winsvc.Name, sysdirs.Root)
			return nil
		},
	}
	remove.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the service to stop")
	remove.Flags().BoolVar(&purge, "purge", false, "remove "+sysdirs.Root+" too: the configuration, the ledger (sales HQ may not have yet), the keys")
	var runConfig string
	runCmd := &cobra.Command{
		Use:   "run",
		Short: "what the service control manager starts: tilld run, as a service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serviceRun(cmd.Context(), runConfig)
		},
	}
	runCmd.Flags().StringVar(&runConfig, "config", daemon.DefaultConfigFile, "configuration file")
	cmd.AddCommand(install, remove, runCmd)
	return []*cobra.Command{cmd}
}

// SecureDirs creates %ProgramData%\tilld, its data and log directories, and
// sets their ACLs (winsvc.PrivateSDDL, winsvc.ConfigSDDL).
func SecureDirs() error {
	if err := winsvc.SecureDir(sysdirs.Root, winsvc.ConfigSDDL); err != nil {
		return err
	}
	for _, d := range []string{sysdirs.DataDir, sysdirs.LogDir} {
		if err := winsvc.SecureDir(d, winsvc.PrivateSDDL); err != nil {
			return err
		}
	}
	return nil
}

// copyIfMissing copies the template to path unless path exists: an
// installation never replaces a configuration store IT edited.
func copyIfMissing(template, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b, err := os.ReadFile(template)
	if err != nil {
		return fmt.Errorf("configuration template: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	return nil
}

// removeTree removes dir and everything in it, deepest first, one os.Remove
// (DeleteFile, RemoveDirectory) at a time. Not os.RemoveAll: Go 1.26's
// deletes through FileDispositionInformationEx, which wine 8.0 does not
// implement, and the .msi's purge is tested under wine.
func removeTree(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := os.Remove(paths[i]); err != nil {
			return err
		}
	}
	return nil
}
