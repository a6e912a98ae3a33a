package localapi

import (
	_ "embed"
	"net/http"
)

//go:embed page/index.html
var pageHTML []byte

// page serves the till page: it listens to /v1/events and greets the customer.
func (a *api) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(pageHTML)
}
