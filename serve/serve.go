// Package serve runs an HTTP handler on a listener for as long as a context lives,
// the way every tilld and tillhq server does: bounded header and idle times, and a
// graceful shutdown that lets requests in flight finish.
package serve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTP serves h on ln until ctx is cancelled, then shuts down within grace
// (default 5 s) and returns nil. Long-lived requests (SSE, long polls) must watch
// their request context, which is cancelled on shutdown.
func HTTP(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	return Server(ctx, ln, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}, grace)
}

// Server is HTTP with a server of the caller's (its timeouts); its
// BaseContext is set to ctx.
func Server(ctx context.Context, ln net.Listener, srv *http.Server, grace time.Duration) error {
	if grace == 0 {
		grace = 5 * time.Second
	}
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// ReadBody reads a request's body whole, at most limit bytes (an
// *http.MaxBytesError past it). A declared length of at most trusted bytes
// sizes one buffer before the bytes come; a larger one grows as they
// arrive, so that a client that declares megabytes and sends a byte holds
// no megabytes.
func ReadBody(w http.ResponseWriter, r *http.Request, limit, trusted int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	if n := r.ContentLength; n >= 0 && n <= min(limit, trusted) {
		data := make([]byte, n)
		if _, err := io.ReadFull(body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	return io.ReadAll(body)
}
