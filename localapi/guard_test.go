package localapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serve runs one request through the API's handler, from remote (host:port).
func (e *env) serve(method, path, body, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, "http://127.0.0.1:7450"+path, strings.NewReader(body))
	} else {
		req = httptest.NewRequest(method, "http://127.0.0.1:7450"+path, nil)
	}
	req.RemoteAddr = remote
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	return w
}

// TestRequestsFromOtherMachinesNeedTheToken: with a listen address other
// machines reach (remote_api), each of their requests needs the token — the
// till page's too — and then any Host will do; this machine's are judged as
// on loopback.
func TestRequestsFromOtherMachinesNeedTheToken(t *testing.T) {
	e := newEnv(t, tiersOnly)
	const lan = "192.0.2.10:50000"
	auth := map[string]string{"Authorization": "Bearer " + testToken, "Host": "till7.store.example:7450"}
	for _, path := range []string{"/", "/v1/status", "/v1/events", "/v1/devices", "/metrics", "/v1/accounts/2000000000015"} {
		if w := e.serve("GET", path, "", lan, nil); w.Code != http.StatusUnauthorized {
			t.Errorf("GET %s from another machine without the token: %d, want 401", path, w.Code)
		}
	}
	for _, path := range []string{"/", "/v1/status", "/v1/accounts/2000000000015"} {
		if w := e.serve("GET", path, "", lan, auth); w.Code != http.StatusOK {
			t.Errorf("GET %s from another machine with the token: %d %s, want 200", path, w.Code, w.Body)
		}
	}
	sale := `{"id":"lan-1","lines":[{"sku":"a","qty":1,"unit_price":100}]}`
	hdr := map[string]string{"Authorization": "Bearer " + testToken, "Content-Type": "application/json"}
	if w := e.serve("POST", "/v1/sales", sale, lan, hdr); w.Code != http.StatusCreated {
		t.Errorf("sale from another machine with the token: %d %s", w.Code, w.Body)
	}
	if w := e.serve("POST", "/v1/sales", sale, "[::ffff:127.0.0.1]:1", map[string]string{"Content-Type": "application/json"}); w.Code != http.StatusUnauthorized {
		t.Errorf("sale from this machine without the token: %d", w.Code)
	}
	if w := e.serve("GET", "/v1/status", "", "[::1]:1", nil); w.Code != http.StatusOK {
		t.Errorf("status from this machine over IPv6: %d", w.Code)
	}
}

// TestHostMustBeThisMachine: without the token, Host must name this machine.
func TestHostMustBeThisMachine(t *testing.T) {
	e := newEnv(t, tiersOnly)
	for host, ok := range map[string]bool{
		"127.0.0.1:7450": true, "localhost:7450": true, "LocalHost.:80": true, "[::1]:7450": true, "127.0.0.1": true,
		"127.1.2.3:9": true, "[::ffff:127.0.0.1]:7450": true,
		"evil.example:7450": false, "evil.example": false, "127.0.0.1.evil.example": false, "localhost.evil.example:7450": false,
		"0.0.0.0:7450": false, "192.168.1.5:7450": false, "": false, "[::]:7450": false,
	} {
		w := e.serve("GET", "/v1/status", "", "127.0.0.1:1", map[string]string{"Host": host})
		if (w.Code == http.StatusOK) != ok {
			t.Errorf("Host %q: %d, want ok=%v", host, w.Code, ok)
		}
		if !ok && !strings.Contains(w.Body.String(), "bad_host") {
			t.Errorf("Host %q refused as %s", host, w.Body)
		}
	}
	// Every answer tells a browser not to sniff it or frame it.
	w := e.serve("GET", "/", "", "127.0.0.1:1", nil)
	if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("the till page's headers: %v", w.Header())
	}
}

// TestNoTokenNoWrites: a handler without a token configured answers the till
// page's reads and nothing else.
func TestNoTokenNoWrites(t *testing.T) {
	e := newEnv(t, tiersOnly)
	e.handler = e.handlerWith("")
	if w := e.serve("GET", "/v1/status", "", "127.0.0.1:1", nil); w.Code != http.StatusOK {
		t.Errorf("status: %d", w.Code)
	}
	hdr := map[string]string{"Authorization": "Bearer ", "Content-Type": "application/json"}
	if w := e.serve("POST", "/v1/quote", `{"lines":[{"sku":"a","qty":1,"unit_price":1}]}`, "127.0.0.1:1", hdr); w.Code != http.StatusUnauthorized {
		t.Errorf("quote with an empty token: %d", w.Code)
	}
}
