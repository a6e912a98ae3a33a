package localapi

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"net/http"
)

//go:embed page/index.html
var pageHTML []byte

//go:embed page/display.html
var displayHTML []byte

// page serves the cashier's page: it follows /v1/events and greets the
// customer, shows the basket with every discount's reason, the till's
// state, and signs new card holders up.
func (a *api) page(w http.ResponseWriter, r *http.Request) { a.screen(w, pageHTML) }

// display serves the customer's display: the greeting, the basket with
// the savings and their reasons, the points, and the NPS question.
func (a *api) display(w http.ResponseWriter, r *http.Request) { a.screen(w, displayHTML) }

func (a *api) screen(w http.ResponseWriter, html []byte) {
	a.setPageCookie(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Write(html)
}

func newPageSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
