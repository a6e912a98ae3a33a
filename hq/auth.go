package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tilld/tilld/sync/wire"
)

// SessionTTL is how long a web session lasts.
const SessionTTL = 12 * time.Hour

// RoleFor is the role an admin API route (a ServeMux pattern) needs, "" when
// any operator may call it. Routes it does not name need an analyst to read
// (GET) and an admin to change.
func RoleFor(pattern string) Role {
	method, path, _ := strings.Cut(pattern, " ")
	switch {
	case path == wire.PathAdminMe, path == wire.PathAdminLogout, pattern == "GET "+wire.PathAdminRules, pattern == "GET "+PathAdminRulesVersions:
		return "" // any operator
	case strings.HasPrefix(path, wire.PathAdminRules):
		if method == http.MethodGet {
			return RoleAnalyst
		}
		return RoleMarketing
	case strings.HasPrefix(path, wire.PathAdminCustomers):
		return RoleSupport
	case strings.HasPrefix(path, wire.PathAdminTerminals), strings.HasPrefix(path, wire.PathAdminUsers), strings.HasPrefix(path, wire.PathAdminLog):
		return RoleAdmin
	case method == http.MethodGet:
		return RoleAnalyst
	}
	return RoleAdmin
}

// caller is who sent an admin request.
type caller struct {
	Name string
	Role Role
	Open bool   // no credential: no operator exists and the admin API is open (not Options.RequireOperator)
	Cred string // the credential's hash
	Kind string // CredToken or CredSession
}

type callerKey struct{}

// auditNote is what a handler adds to its admin log entry.
type auditNote struct{ target, detail string }

type noteKey struct{}

// noteAudit sets the target and detail of the request's admin log entry.
func noteAudit(r *http.Request, target, detail string) {
	if n, ok := r.Context().Value(noteKey{}).(*auditNote); ok {
		n.target, n.detail = target, detail
	}
}

// operators is the store's OperatorStore; nil when it has none.
func (s *Server) operators() OperatorStore {
	st, _ := s.opts.Store.(OperatorStore)
	return st
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets a streaming handler flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// guardAdmin puts the browser checks, authentication, the role check and the
// admin log in front of the admin routes of mux. A request without an API
// token must name the listener in Host and, when it changes something, must
// not come from another site's page (browserRefusal; 403, logged). Then
// every request but /healthz, the console's files and the login names an
// operator whose role allows the route (else 401 or 403, both logged), and
// every request that changes something is logged with its outcome.
func (s *Server) guardAdmin(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if code, msg := s.browserRefusal(r); code != "" {
			action := pattern
			if action == "" {
				action = r.Method + " " + r.URL.Path
			}
			s.logAdmin(r, caller{}, action, auditNote{detail: msg}, "denied", http.StatusForbidden)
			wire.WriteError(w, http.StatusForbidden, code, msg)
			return
		}
		if pattern == "" || pattern == "GET /healthz" || pattern == "POST "+wire.PathAdminLogin || pattern == "GET "+PathConsole || pattern == "GET /{$}" {
			mux.ServeHTTP(w, r)
			return
		}
		need := RoleFor(pattern)
		who, status, msg := s.authenticate(r)
		if status == 0 && !who.Role.Allows(need) {
			status, msg = http.StatusForbidden, fmt.Sprintf("operator %s is %s; %s needs %s", who.Name, who.Role, pattern, need)
		}
		if status != 0 {
			code, outcome := wire.CodeForbidden, "denied"
			if status == http.StatusUnauthorized {
				code, outcome = wire.CodeUnauthenticated, "unauthenticated"
			}
			// The console asks who is there on every visit: that question
			// unanswered is no attempt at anything.
			if pattern != "GET "+wire.PathAdminMe || status != http.StatusUnauthorized {
				s.logAdmin(r, who, pattern, auditNote{detail: msg}, outcome, status)
			}
			wire.WriteError(w, status, code, msg)
			return
		}
		note := &auditNote{}
		ctx := context.WithValue(context.WithValue(r.Context(), callerKey{}, who), noteKey{}, note)
		sw := &statusWriter{ResponseWriter: w}
		mux.ServeHTTP(sw, r.WithContext(ctx))
		if r.Method != http.MethodGet && r.Method != http.MethodHead && pattern != "POST "+PathAdminRulesCheck && pattern != "POST "+PathAdminRulesSimulate {
			outcome := "ok"
			if sw.status >= 400 {
				outcome = "failed"
			}
			s.logAdmin(r, who, pattern, *note, outcome, cmpStatus(sw.status))
		}
	})
}

// adminCrossOrigin judges where a browser says a change comes from:
// Sec-Fetch-Site, else Origin against Host. It lets through what no browser
// marks (tillhq, scripts) and what HQ's own pages send.
var adminCrossOrigin = http.NewCrossOriginProtection()

// browserRefusal returns why r may not go on, as an error code and a
// message, or "" when it may. It keeps other sites' pages in a browser on
// an operator's machine from using the admin API through that browser:
//
//   - A change (any method but GET, HEAD and OPTIONS) without an API token
//     must not come from another origin (adminCrossOrigin). A page cannot
//     make the browser send an Authorization header to HQ (that needs a CORS
//     preflight, which HQ never answers), but it can send a session cookie
//     (SameSite helps only in browsers that honour it) or, while the admin
//     API is open (no operator yet), need no credential at all.
//   - A request without an API token must name the listener in Host while
//     the admin API may be open (not Options.RequireOperator; tillhq then
//     listens on loopback only) over plain HTTP: a page that points its own
//     DNS name at 127.0.0.1 (DNS rebinding) is same-origin with itself, but
//     still says its own name in Host. Over TLS such a page fails at HQ's
//     certificate; with RequireOperator every request needs a credential
//     that page does not hold; a request that came over no listener (a
//     handler called in-process) has no listener to name.
func (s *Server) browserRefusal(r *http.Request) (code, msg string) {
	if strings.HasPrefix(r.Header.Get(wire.HeaderAuthorization), "Bearer ") {
		return "", ""
	}
	if !s.opts.RequireOperator && r.TLS == nil {
		if msg := wrongHost(r); msg != "" {
			return "bad_host", msg
		}
	}
	if err := adminCrossOrigin.Check(r); err != nil {
		return "cross_site", "HQ's admin API takes changes from HQ's own pages, tillhq or an API token, not from another site's page: " + err.Error()
	}
	return "", ""
}

// wrongHost returns why r's Host does not name the listener r came in on,
// "" when it does or r came in on none: for a loopback listener, localhost
// or a loopback address; for another, its own address.
func wrongHost(r *http.Request) string {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return ""
	}
	la, err := netip.ParseAddrPort(local.String())
	if err != nil {
		return ""
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	ip, ipErr := netip.ParseAddr(host)
	if la.Addr().Unmap().IsLoopback() {
		if host == "localhost" || ipErr == nil && ip.Unmap().IsLoopback() {
			return ""
		}
		return fmt.Sprintf("Host %q is not this HQ's admin API: use http://127.0.0.1:%d/ or http://localhost:%d/ (a page of another site that points its name at this machine is refused)",
			r.Host, la.Port(), la.Port())
	}
	if ipErr == nil && ip.Unmap() == la.Addr().Unmap() {
		return ""
	}
	return fmt.Sprintf("Host %q is not this HQ's admin API: use http://%s/", r.Host, la)
}

func cmpStatus(s int) int {
	if s == 0 {
		return http.StatusOK
	}
	return s
}

// authenticate names the caller of r: by its API token (Authorization:
// Bearer), else its session cookie, else, while no operator exists and the
// admin API is open until one does, nobody in particular. status is 0 when
// it did, else the refusal. guardAdmin has refused changes from other sites
// already (browserRefusal), whatever they carry.
func (s *Server) authenticate(r *http.Request) (who caller, status int, msg string) {
	st := s.operators()
	if st == nil {
		if !s.opts.RequireOperator {
			return caller{Role: RoleAdmin, Open: true}, 0, ""
		}
		return caller{}, http.StatusUnauthorized, "this HQ store keeps no operators"
	}
	var secret, kind string
	if h := r.Header.Get(wire.HeaderAuthorization); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return caller{}, http.StatusUnauthorized, "Authorization: want Bearer <API token>"
		}
		secret, kind = strings.TrimSpace(tok), CredToken
	} else if c, err := r.Cookie(wire.CookieSession); err == nil {
		secret, kind = c.Value, CredSession
	}
	ctx := r.Context()
	if secret == "" {
		if !s.opts.RequireOperator {
			ops, err := st.Operators(ctx)
			if err != nil {
				s.log.Error("read operators", "err", err)
				return caller{}, http.StatusServiceUnavailable, "HQ cannot read its store right now"
			}
			if len(ops) == 0 {
				return caller{Role: RoleAdmin, Open: true}, 0, ""
			}
		}
		return caller{}, http.StatusUnauthorized, "log in, or send an API token (Authorization: Bearer; tillhq reads TILLHQ_TOKEN or its token file)"
	}
	hash := TokenHash(secret)
	c, err := st.Credential(ctx, hash)
	switch {
	case errors.Is(err, ErrNoCredential):
		return caller{}, http.StatusUnauthorized, "unknown or revoked " + kind
	case err != nil:
		s.log.Error("read credential", "err", err)
		return caller{}, http.StatusServiceUnavailable, "HQ cannot read its store right now"
	case c.Kind != kind:
		return caller{}, http.StatusUnauthorized, "unknown or revoked " + kind
	case !c.Expires.IsZero() && !s.opts.Now().Before(c.Expires):
		return caller{}, http.StatusUnauthorized, kind + " expired: log in again"
	}
	o, err := st.Operator(ctx, c.Operator)
	switch {
	case errors.Is(err, ErrNoOperator):
		return caller{}, http.StatusUnauthorized, "unknown operator"
	case err != nil:
		s.log.Error("read operator", "err", err)
		return caller{}, http.StatusServiceUnavailable, "HQ cannot read its store right now"
	case !o.Disabled.IsZero():
		return caller{Name: o.Name, Role: o.Role}, http.StatusUnauthorized, "operator " + o.Name + " is disabled"
	}
	return caller{Name: o.Name, Role: o.Role, Cred: hash, Kind: kind}, 0, ""
}

// logAdmin appends a line to the admin log; a failure is logged loudly (the
// action itself has happened or been refused already).
func (s *Server) logAdmin(r *http.Request, who caller, action string, note auditNote, outcome string, status int) {
	st := s.operators()
	if st == nil {
		return
	}
	name := who.Name
	if who.Open {
		name = "(open: no operator yet)"
	}
	e := AdminEntry{At: s.opts.Now().UTC(), Operator: name, Role: who.Role, Action: action, Target: note.target,
		Detail: note.detail, Remote: r.RemoteAddr, Outcome: outcome, Status: status}
	// The log is written even when the caller hung up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if _, err := st.AppendAdminLog(ctx, e); err != nil {
		s.log.Error("admin log: cannot append", "err", err, "operator", name, "action", action, "outcome", outcome)
	}
}

// callerOf returns the caller guardAdmin found.
func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c
}

// adminAuthRoutes adds the operators', sessions', log's and revocation's routes.
func (s *Server) adminAuthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+wire.PathAdminLogin, s.login)
	mux.HandleFunc("POST "+wire.PathAdminLogout, s.logout)
	mux.HandleFunc("GET "+wire.PathAdminMe, func(w http.ResponseWriter, r *http.Request) {
		c := callerOf(r)
		wire.WriteJSON(w, http.StatusOK, wire.Me{Name: c.Name, Role: string(c.Role), Open: c.Open})
	})
	mux.HandleFunc("GET "+wire.PathAdminUsers, s.listUsers)
	mux.HandleFunc("POST "+wire.PathAdminUsers, s.addUser)
	mux.HandleFunc("POST "+wire.PathAdminUsers+"/{name}"+wire.PathAdminUserDisable, s.disableUser)
	mux.HandleFunc("GET "+wire.PathAdminLog, s.adminLog)
	mux.HandleFunc("POST "+wire.PathAdminTerminals+"/{terminal}"+wire.PathAdminRevoke, s.revokeTerminal)
	mux.HandleFunc("GET "+wire.PathAdminFleet, s.fleet)
	s.consoleRoutes(mux)
	s.rulesRoutes(mux)
	s.rulesScheduleRoutes(mux)
	mux.HandleFunc("GET "+PathReportDiscounts, s.reportDiscounts)
}

func (s *Server) storeError(w http.ResponseWriter, what string, err error) {
	s.log.Error(what, "err", err)
	wire.WriteError(w, http.StatusServiceUnavailable, "store_unavailable", "HQ cannot use its store right now")
}

// login checks an operator's password and opens a web session: an HttpOnly,
// SameSite=Strict cookie (Secure over TLS) naming a session HQ's store keeps,
// so that any replica knows it. Every attempt is in the admin log.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	st := s.operators()
	if st == nil {
		wire.WriteError(w, http.StatusNotImplemented, "no_operators", "this HQ store keeps no operators")
		return
	}
	var req wire.LoginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "login body: "+err.Error())
		return
	}
	action := "POST " + wire.PathAdminLogin
	now := s.opts.Now()
	// The attempt counts as failed from here on, until its password is right.
	wait, err := takeLoginAttempt(r.Context(), st, req.Name, r.RemoteAddr, now)
	if err != nil {
		s.storeError(w, "login", err)
		return
	}
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		msg := fmt.Sprintf("too many failed logins for this name or from this address: try again in %d s", secs)
		s.logAdmin(r, caller{Name: req.Name}, action, auditNote{detail: msg}, "denied", http.StatusTooManyRequests)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		wire.WriteError(w, http.StatusTooManyRequests, "too_many_logins", msg)
		return
	}
	// forgive takes the attempt back from the counts of the name and the
	// address it was counted in.
	forgive := func(keys ...string) {
		if err := st.ForgiveLoginAttempt(context.WithoutCancel(r.Context()), keys, now); err != nil {
			s.log.Warn("take back a login attempt counted as failed", "err", err)
		}
	}
	o, err := st.Operator(r.Context(), req.Name)
	if err != nil && !errors.Is(err, ErrNoOperator) {
		forgive(nameKey(req.Name), addrKey(r.RemoteAddr))
		s.storeError(w, "login", err)
		return
	}
	// A wrong name costs the same bcrypt as a wrong password.
	hash := o.PasswordHash
	if err != nil {
		hash = dummyHash()
	}
	match, checked := checkPasswordSlot(r.Context(), hash, req.Password)
	if !checked {
		forgive(nameKey(req.Name), addrKey(r.RemoteAddr))
		w.Header().Set("Retry-After", "5")
		wire.WriteError(w, http.StatusServiceUnavailable, "busy", "HQ is checking too many passwords at once: try again in a few seconds")
		return
	}
	if !match || err != nil || !o.Disabled.IsZero() {
		s.logAdmin(r, caller{Name: req.Name}, action, auditNote{detail: "wrong name or password, or operator disabled"}, "unauthenticated", http.StatusUnauthorized)
		wire.WriteError(w, http.StatusUnauthorized, wire.CodeUnauthenticated, "wrong name or password, or the operator is disabled")
		return
	}
	// Right: the name's failures are forgiven, and this attempt is taken
	// back from its address's (the others from there stay).
	if err := st.ClearLoginFailures(context.WithoutCancel(r.Context()), nameKey(req.Name)); err != nil {
		s.log.Warn("clear an operator's failed logins", "err", err)
	}
	forgive(addrKey(r.RemoteAddr))
	// Expired sessions go at each login: no replica needs a timer for it.
	if n, err := st.PurgeCredentials(r.Context(), now); err != nil {
		s.log.Warn("purge expired sessions", "err", err)
	} else if n > 0 {
		s.log.Info("expired sessions purged", "sessions", n)
	}
	secret := NewSecret()
	if err := st.AddCredential(r.Context(), Credential{Hash: TokenHash(secret), Kind: CredSession, Operator: o.Name, Created: now.UTC(), Expires: now.Add(SessionTTL).UTC()}); err != nil {
		s.storeError(w, "login", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: wire.CookieSession, Value: secret, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(SessionTTL / time.Second)})
	s.logAdmin(r, caller{Name: o.Name, Role: o.Role}, action, auditNote{}, "ok", http.StatusOK)
	wire.WriteJSON(w, http.StatusOK, wire.Me{Name: o.Name, Role: string(o.Role)})
}

// dummyHash is the hash a login for an unknown name is checked against.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := HashPassword("not-a-password-anyone-has")
	return h
})

// logout forgets the session or API token the request came with.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if st := s.operators(); st != nil && c.Cred != "" {
		if err := st.DeleteCredential(r.Context(), c.Cred); err != nil {
			s.storeError(w, "logout", err)
			return
		}
	}
	if c.Kind == CredSession {
		http.SetCookie(w, &http.Cookie{Name: wire.CookieSession, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	}
	noteAudit(r, c.Kind, "")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	st := s.operators()
	if st == nil {
		wire.WriteError(w, http.StatusNotImplemented, "no_operators", "this HQ store keeps no operators")
		return
	}
	ops, err := st.Operators(r.Context())
	if err != nil {
		s.storeError(w, "list operators", err)
		return
	}
	out := wire.Users{Users: []wire.User{}}
	for _, o := range ops {
		u := wire.User{Name: o.Name, Role: string(o.Role), Created: o.Created.UTC().Format(time.RFC3339)}
		if !o.Disabled.IsZero() {
			u.Disabled = o.Disabled.UTC().Format(time.RFC3339)
		}
		out.Users = append(out.Users, u)
	}
	wire.WriteJSON(w, http.StatusOK, out)
}

// addUser adds an operator and answers their first API token (and their
// password, when HQ made it up).
func (s *Server) addUser(w http.ResponseWriter, r *http.Request) {
	st := s.operators()
	if st == nil {
		wire.WriteError(w, http.StatusNotImplemented, "no_operators", "this HQ store keeps no operators")
		return
	}
	var req wire.AddUserRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "user body: "+err.Error())
		return
	}
	noteAudit(r, req.Name, "role "+req.Role)
	ans, err := AddOperator(r.Context(), st, req, s.opts.Now())
	switch {
	case errors.Is(err, ErrOperatorExists):
		wire.WriteError(w, http.StatusConflict, "operator_exists", err.Error())
	case err != nil:
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
	default:
		wire.WriteJSON(w, http.StatusCreated, ans)
	}
}

// AddOperator adds the operator req names (with a made-up password when it
// has none) and their first API token: what `tillhq user add` does, over
// the admin API or on the store directly.
func AddOperator(ctx context.Context, st OperatorStore, req wire.AddUserRequest, now time.Time) (wire.AddUserResponse, error) {
	ans := wire.AddUserResponse{Name: req.Name, Role: req.Role}
	if req.Password == "" {
		req.Password = NewPassword()
		ans.Password = req.Password
	}
	o, err := NewOperator(req.Name, Role(req.Role), req.Password, now)
	if err != nil {
		return wire.AddUserResponse{}, err
	}
	if err := st.AddOperator(ctx, o); err != nil {
		return wire.AddUserResponse{}, fmt.Errorf("add operator %s: %w", req.Name, err)
	}
	if ans.Token, err = AddToken(ctx, st, o.Name, now); err != nil {
		return wire.AddUserResponse{}, err
	}
	return ans, nil
}

// disableUser disables an operator, but never the caller (another admin
// must) nor the last enabled admin (the store checks that in the same
// transaction as the change): either would leave the admin API without
// anyone who may manage operators, mending which needs the store directly.
func (s *Server) disableUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	noteAudit(r, name, "disable")
	if c := callerOf(r); !c.Open && c.Name == name {
		wire.WriteError(w, http.StatusConflict, "disable_self", fmt.Sprintf("operator %s cannot disable themselves: another admin must", name))
		return
	}
	err := s.operators().DisableOperator(r.Context(), name, s.opts.Now())
	switch {
	case errors.Is(err, ErrNoOperator):
		wire.WriteError(w, http.StatusNotFound, "no_operator", "no operator "+name)
	case errors.Is(err, ErrLastAdmin):
		wire.WriteError(w, http.StatusConflict, "last_admin", fmt.Sprintf("operator %s is the last enabled admin: add another admin before disabling them", name))
	case err != nil:
		s.storeError(w, "disable operator", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// maxAdminLogPage is the most entries GET /v1/admin/log answers at once.
const maxAdminLogPage = 10_000

// adminLog answers a page of the admin log and whether the log up to its
// end links and hashes.
func (s *Server) adminLog(w http.ResponseWriter, r *http.Request) {
	st := s.operators()
	if st == nil {
		wire.WriteError(w, http.StatusNotImplemented, "no_operators", "this HQ store keeps no operators")
		return
	}
	q := r.URL.Query()
	after, limit := int64(0), 1000
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("after %q: want the position of an entry, 0 or more (0: from the start)", v))
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAdminLogPage {
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit %q: want 1 to %d entries (default 1000)", v, maxAdminLogPage))
			return
		}
		limit = n
	}
	ans := wire.AdminLog{Entries: []wire.AdminLogEntry{}, Verified: true}
	prev := ""
	for pos := int64(0); ; {
		page, err := st.AdminLog(r.Context(), pos, 1000)
		if err != nil {
			s.storeError(w, "admin log", err)
			return
		}
		if err := VerifyAdminLog(prev, page); err != nil && ans.Verified {
			ans.Verified, ans.Broken = false, err.Error()
		}
		for _, e := range page {
			if e.Seq > after && len(ans.Entries) < limit {
				ans.Entries = append(ans.Entries, wire.AdminLogEntry{Seq: e.Seq, At: e.At.UTC().Format(time.RFC3339Nano), Operator: e.Operator, Role: string(e.Role),
					Action: e.Action, Target: e.Target, Detail: e.Detail, Remote: e.Remote, Outcome: e.Outcome, Status: e.Status, Prev: e.Prev, Hash: e.Hash})
			}
		}
		if len(page) < 1000 {
			break
		}
		pos, prev = page[len(page)-1].Seq, page[len(page)-1].Hash
	}
	wire.WriteJSON(w, http.StatusOK, ans)
}

func (s *Server) revokeTerminal(w http.ResponseWriter, r *http.Request) {
	terminal := r.PathValue("terminal")
	noteAudit(r, terminal, "revoke")
	if !idPattern.MatchString(terminal) {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("terminal %q: ids are 1-64 letters, digits, '.', '_' or '-'", terminal))
		return
	}
	rev, err := s.RevokeTerminal(r.Context(), terminal, callerOf(r).Name)
	if err != nil {
		s.storeError(w, "revoke terminal", err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, wire.RevokeResponse{Terminal: rev.Terminal, At: rev.At.UTC().Format(time.RFC3339), By: rev.By})
}

// RevokeTerminal revokes a terminal: from now on every replica refuses its
// certificates, its long polls included.
func (s *Server) RevokeTerminal(ctx context.Context, terminal, by string) (Revocation, error) {
	st := s.operators()
	if st == nil {
		return Revocation{}, errors.New("revoke terminal: this HQ store keeps no revocations")
	}
	if err := st.RevokeTerminal(ctx, Revocation{Terminal: terminal, At: s.opts.Now().UTC(), By: by}); err != nil {
		return Revocation{}, err
	}
	rev, _, err := st.Revoked(ctx, terminal)
	if err != nil {
		return Revocation{}, err
	}
	s.log.Warn("terminal revoked", "terminal", terminal, "by", by)
	s.wake(ctx, TopicRevoked)
	return rev, nil
}

// refuseRevoked answers 403 and reports true when the request's certificate
// names a revoked terminal.
func (s *Server) refuseRevoked(w http.ResponseWriter, r *http.Request) bool {
	st := s.operators()
	t := TerminalOf(r)
	if st == nil || t == "" {
		return false
	}
	rev, ok, err := st.Revoked(r.Context(), t)
	switch {
	case err != nil:
		s.storeError(w, "read revocations", err)
		return true
	case ok:
		s.log.Warn("revoked terminal refused", "terminal", t, "remote", r.RemoteAddr)
		rev.Terminal = t
		wire.WriteError(w, http.StatusForbidden, wire.CodeRevoked, revokedMessage(rev))
		return true
	}
	return false
}

// checkNotRevoked returns an ErrTerminalRevoked error when the terminal is revoked.
func (s *Server) checkNotRevoked(ctx context.Context, terminal string) error {
	st := s.operators()
	if st == nil {
		return nil
	}
	rev, ok, err := st.Revoked(ctx, terminal)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%w: terminal %s was revoked at %s by %s; enroll the till under a new terminal id", ErrTerminalRevoked, terminal, rev.At.UTC().Format(time.RFC3339), rev.By)
	}
	return nil
}
