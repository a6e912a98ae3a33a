package winsvc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// Name is the service's name, and the event log source's.
const Name = "tilld"

// Exit is how the service's run ended: Code is tilld's exit status (0 a clean
// stop), Final says that restarting cannot help (daemon.ExitCode.Final: a
// wrong configuration, a till not enrolled).
type Exit struct {
	Code  int
	Final bool
}

// Run runs fn as the service Name until the service control manager asks it to
// stop (fn's ctx is then cancelled) or fn returns. It reports the exit to the
// manager so that the recovery actions Install sets restart tilld after a
// failure, but not after a final one: that stop is reported as clean, as
// systemd's RestartPreventExitStatus does on Linux, and logged as an error.
func Run(fn func(ctx context.Context) Exit, elog *eventlog.Log) error {
	return svc.Run(Name, &handler{fn: fn, elog: elog})
}

type handler struct {
	fn   func(ctx context.Context) Exit
	elog *eventlog.Log
}

func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Exit, 1)
	go func() { done <- h.fn(ctx) }()
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	status <- svc.Status{State: svc.Running, Accepts: accepts}
	info(h.elog, "tilld started")
	for {
		select {
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: 30_000}
				cancel()
			}
		case e := <-done:
			status <- svc.Status{State: svc.StopPending}
			switch {
			case e.Code == 0:
				info(h.elog, "tilld stopped")
				return false, 0
			case e.Final:
				// Reported as a clean stop so the recovery actions do not
				// restart it: a restart cannot fix what stopped it.
				if h.elog != nil {
					_ = h.elog.Error(1, fmt.Sprintf("tilld stopped with exit status %d and is not restarted: fix the cause (the log says it) and start the service again", e.Code))
				}
				return false, 0
			default:
				if h.elog != nil {
					_ = h.elog.Error(1, fmt.Sprintf("tilld failed with exit status %d; the service's recovery actions restart it", e.Code))
				}
				return true, uint32(e.Code)
			}
		}
	}
}

func info(elog *eventlog.Log, msg string) {
	if elog != nil {
		_ = elog.Info(1, msg)
	}
}

// Recovery is what Install asks of the service control manager after a
// failure: restart after 5 s, 10 s, then every 30 s; the count starts again
// after a day without failures.
var Recovery = []mgr.RecoveryAction{
	{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
}

// RecoveryReset is the failure count's reset period, in seconds.
const RecoveryReset = 24 * 60 * 60

// InstallOptions say what Install registers.
type InstallOptions struct {
	Exe    string   // tilld.exe's full path
	Args   []string // what the service runs: "run", "--config", FILE
	Manual bool     // start by hand, not at boot (the tests)
	Warn   func(string)
}

func (o InstallOptions) warn(msg string) {
	if o.Warn != nil {
		o.Warn(msg)
	}
}

// Install registers tilld as the service Name (automatic start, delayed so the
// network and the smart card service are up; LocalSystem), its recovery
// actions (Recovery, also on a non-zero exit, not only on a crash), and the
// event log source Name.
func Install(o InstallOptions) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("install service %s: connect to the service control manager (run as an administrator): %w", Name, err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(Name); err == nil {
		s.Close()
		return fmt.Errorf("install service %s: it is installed already (`tilld service remove` first)", Name)
	}
	cfg := mgr.Config{
		DisplayName:      "tilld point-of-sale daemon",
		Description:      "Reads loyalty cards, prices baskets, keeps the sales ledger and forwards it to HQ.",
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: true,
		Dependencies:     []string{"Tcpip"},
	}
	if o.Manual {
		cfg.StartType, cfg.DelayedAutoStart = mgr.StartManual, false
	}
	s, err := m.CreateService(Name, o.Exe, cfg, o.Args...)
	if errors.Is(err, windows.ERROR_INVALID_LEVEL) && cfg.DelayedAutoStart {
		// Wine 8.0 has no delayed automatic start (Windows has since Vista).
		o.warn("this system has no delayed automatic start: tilld starts at boot with the other services")
		cfg.DelayedAutoStart = false
		s, err = m.CreateService(Name, o.Exe, cfg, o.Args...)
	}
	if err != nil {
		return fmt.Errorf("install service %s: %w", Name, err)
	}
	defer s.Close()
	fail := func(what string, err error) error {
		_ = s.Delete() // all or nothing
		return fmt.Errorf("install service %s: %s: %w", Name, what, err)
	}
	if err := s.SetRecoveryActions(Recovery, RecoveryReset); err != nil {
		return fail("recovery actions", err)
	}
	// Without this flag the actions follow only a crash, not a non-zero exit.
	// Windows has it since Vista; wine 8.0 refuses it (ERROR_INVALID_LEVEL),
	// and then tilld is restarted only when its process dies.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		if !errors.Is(err, windows.ERROR_INVALID_LEVEL) {
			return fail("recovery on failures", err)
		}
		o.warn("this system does not take recovery actions on a failed exit (ERROR_INVALID_LEVEL): tilld is restarted only when its process dies")
	}
	// A source left by an earlier install is fine (the message says "already exists").
	if err := eventlog.InstallAsEventCreate(Name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !strings.Contains(err.Error(), "already exists") {
		return fail("event log source", err)
	}
	return nil
}

// Remove stops the service Name if it runs, waiting up to timeout, and
// removes it and its event log source. The data stays.
func Remove(timeout time.Duration) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("remove service %s: connect to the service control manager (run as an administrator): %w", Name, err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		return fmt.Errorf("remove service %s: %w", Name, err)
	}
	defer s.Close()
	if err := Stop(s, timeout); err != nil {
		return fmt.Errorf("remove service %s: %w", Name, err)
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("remove service %s: %w", Name, err)
	}
	_ = eventlog.Remove(Name) // gone already is fine
	return nil
}

// Stop asks s to stop and waits until it has, or timeout passes.
func Stop(s *mgr.Service, timeout time.Duration) error {
	st, err := s.Query()
	if err != nil {
		return err
	}
	if st.State == svc.Stopped {
		return nil
	}
	if st.State != svc.StopPending {
		if st, err = s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stop: %w", err)
		}
	}
	deadline := time.Now().Add(timeout)
	for st.State != svc.Stopped {
		if time.Now().After(deadline) {
			return fmt.Errorf("stop: still in state %d after %s", st.State, timeout)
		}
		time.Sleep(200 * time.Millisecond)
		if st, err = s.Query(); err != nil {
			return err
		}
	}
	return nil
}

// OpenEventLog opens the event log source Name for writing (nil when it
// cannot: the file log still has everything).
func OpenEventLog() *eventlog.Log {
	l, err := eventlog.Open(Name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tilld: event log: %v\n", err)
		return nil
	}
	return l
}
