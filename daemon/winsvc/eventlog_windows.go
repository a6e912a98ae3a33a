package winsvc

import (
	"bytes"
	"context"
	"log/slog"
	"sync"

	"golang.org/x/sys/windows/svc/eventlog"
)

// EventHandler is a slog.Handler that writes records at or above level to
// the event log, as text (the same key=value form as the file), one event per
// record: Error, Warning or Information by the record's level.
func EventHandler(l *eventlog.Log, level slog.Leveler) slog.Handler {
	w := &eventWriter{log: l}
	return &eventHandler{w: w, inner: slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})}
}

type eventWriter struct {
	mu    sync.Mutex
	log   *eventlog.Log
	level slog.Level // of the record being written
}

func (w *eventWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, "\n"))
	var err error
	switch {
	case w.level >= slog.LevelError:
		err = w.log.Error(1, msg)
	case w.level >= slog.LevelWarn:
		err = w.log.Warning(1, msg)
	default:
		err = w.log.Info(1, msg)
	}
	return len(p), err
}

type eventHandler struct {
	w     *eventWriter
	inner slog.Handler
}

func (h *eventHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *eventHandler) Handle(ctx context.Context, r slog.Record) error {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.w.level = r.Level
	return h.inner.Handle(ctx, r)
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventHandler{w: h.w, inner: h.inner.WithAttrs(as)}
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	return &eventHandler{w: h.w, inner: h.inner.WithGroup(name)}
}
