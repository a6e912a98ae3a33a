package localapi

import (
	"crypto/subtle"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/sync/wire"
)

// The local API belongs to the POS app, tillctl and the till page, not to any
// web page a browser on the till happens to show. Every request passes guard:
//
//   - A request a browser marks as coming from another origin (Sec-Fetch-Site
//     other than same-origin or none, or an Origin that is not the API's own)
//     is refused (403 cross_site), whatever it asks and whatever it carries.
//   - A request without the API token must come from this machine (a loopback
//     peer) and name it in Host (localhost or a loopback address): a page that
//     rebinds its own DNS name to 127.0.0.1 still says its own name in Host
//     (403 bad_host). A request from another machine — possible only when the
//     configuration allows a non-loopback listen address — needs the token
//     for everything (401).
//   - Only the till page's own reads are open without the token (see
//     [routes]); every write and every read of personal data needs it (401
//     unauthorized), and every write must be application/json (415), which a
//     form or a no-cors fetch cannot send.
//
// The token is Authorization: Bearer TOKEN, read from the token file tilld
// writes in its data directory (TokenFile), readable by its user and group.
// A request over tilld's unix socket (in the same directory, mode 0660)
// needs no token: those who can connect to it are those who can read the
// file.

// access is what a route asks of a request beyond guard's checks.
type access int

const (
	// open: the till page reads it; without the token it answers what the
	// page shows (for events: no holder, the card masked).
	open access = iota
	// token: the POS app's and tillctl's: needs the API token.
	token
	// page: the screens' own writes (the display's NPS answer, the
	// cashier's sign-up form): the API token, or the page cookie tilld
	// sets when it serves its screens (see pageCookie).
	page
)

// crossOrigin judges where a browser says a request comes from. Its checks
// (Sec-Fetch-Site, else Origin against Host) are for unsafe methods only;
// guard asks them of every request, reads included.
var crossOrigin = http.NewCrossOriginProtection()

// authenticated reports whether r carries the API token, or came over a
// unix socket: its file's mode admits only those who may read the token
// file (tilld's user and group), so connecting is the credential.
func (a *api) authenticated(r *http.Request) bool {
	if viaSocket(r) {
		return true
	}
	if a.Token == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(a.Token)) == 1
}

// guard applies the checks every request passes, before any route.
func (a *api) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		asWrite := *r // Check only reads it: a copy of the struct will do
		asWrite.Method = http.MethodPost
		if err := crossOrigin.Check(&asWrite); err != nil {
			a.refuse(r, "cross_site")
			wire.WriteError(w, http.StatusForbidden, "cross_site", "The till's local API does not answer web pages of other sites.")
			return
		}
		if !a.authenticated(r) {
			if !loopbackPeer(r.RemoteAddr) {
				a.refuse(r, "remote_without_token")
				wire.WriteError(w, http.StatusUnauthorized, "unauthorized", "Requests from other machines need the till's API token.")
				return
			}
			if !loopbackHost(r.Host) {
				a.refuse(r, "bad_host")
				wire.WriteError(w, http.StatusForbidden, "bad_host", "Use http://127.0.0.1 or http://localhost to reach the till's local API.")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// route wraps a handler with what its access asks: writes need JSON, token
// routes the token.
func (a *api) route(acc access, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if acc == page && !a.authenticated(r) && !a.pageCredential(r) {
			a.refuse(r, "unauthorized")
			wire.WriteError(w, http.StatusUnauthorized, "unauthorized",
				"This call needs the till's API token, or the till's own page (reload it).")
			return
		}
		if acc == token && !a.authenticated(r) {
			a.refuse(r, "unauthorized")
			wire.WriteError(w, http.StatusUnauthorized, "unauthorized",
				"This call needs the till's API token (Authorization: Bearer, from the file "+TokenFile+" in tilld's data directory).")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				a.refuse(r, "bad_content_type")
				wire.WriteError(w, http.StatusUnsupportedMediaType, "bad_content_type", "Send the request body as Content-Type: application/json.")
				return
			}
		}
		h(w, r)
	}
}

// refuse counts a refused request (tilld_api_refused_total) and logs it at
// debug level: a hostile page can send many, and each would flood the log.
func (a *api) refuse(r *http.Request, why string) {
	a.metrics.refused.WithLabelValues(why).Inc()
	a.Logger.Debug("local API request refused", "why", why, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
}

// viaSocket reports whether r came over a unix socket listener: the
// server's own record of the listener's address, which no client sets.
func viaSocket(r *http.Request) bool {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && la.Network() == "unix"
}

// loopbackPeer reports whether a connection's remote address is this machine.
func loopbackPeer(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// loopbackHost reports whether a Host header names this machine: localhost or
// a loopback address, with any port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return serve.Loopback(strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), "."))
}

// The screens tilld serves write twice: the customer's NPS answer on the
// display and a new card holder from the cashier's sign-up form. They
// cannot hold the API token (a page's script is readable by whatever else
// the browser runs), so serving a screen sets a cookie with a secret of
// this process: HttpOnly (no script reads it), SameSite=Strict (no other
// site's page sends it) and for /v1/ only. A route of access page takes
// it in place of the token; guard's checks (same origin, loopback Host)
// apply as to every request. With the cookie, POST /v1/customers only
// signs a new holder up: correcting one needs the token.
const pageCookie = "tilld_page"

// pageCredential reports whether r carries the screens' cookie.
func (a *api) pageCredential(r *http.Request) bool {
	c, err := r.Cookie(pageCookie)
	return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(a.pageSecret)) == 1
}

// setPageCookie gives a screen being served its credential.
func (a *api) setPageCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: pageCookie, Value: a.pageSecret, Path: "/v1/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
}
