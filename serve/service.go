package serve

import (
	"context"
	"io"
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// Notify tells systemd (Type=notify) that the service is ready, keeps its
// watchdog fed while healthy() holds, and says STOPPING when ctx ends. Without
// NOTIFY_SOCKET (not under systemd) it only waits for ctx.
func Notify(ctx context.Context, healthy func() error) {
	sd.SdNotify(false, sd.SdNotifyReady)
	defer sd.SdNotify(false, sd.SdNotifyStopping)
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Feed the watchdog only when the process can really do its job: a hung
			// or broken store must let systemd restart the service.
			if healthy() == nil {
				sd.SdNotify(false, sd.SdNotifyWatchdog)
			}
		}
	}
}

// NewLogger returns the daemons' logger: JSON lines when stderr goes to the
// journal (systemd sets JOURNAL_STREAM; pass its value), text for a person at a
// terminal otherwise.
func NewLogger(w io.Writer, level slog.Level, journalStream string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if journalStream != "" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
