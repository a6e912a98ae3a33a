package hq

import (
	"embed"
	"io/fs"
	"net/http"
)

// consoleFiles is the web console: plain HTML, CSS and JavaScript, no CDN.
//
//go:embed console
var consoleFiles embed.FS

// PathConsole is where the admin listener serves the console.
const PathConsole = "/console/"

// consoleRoutes serves the console's files (to anyone: the page asks the
// admin API who the caller is and shows the login when nobody), and sends
// / there.
func (s *Server) consoleRoutes(mux *http.ServeMux) {
	sub, _ := fs.Sub(consoleFiles, "console")
	files := http.StripPrefix(PathConsole, http.FileServerFS(sub))
	mux.Handle("GET "+PathConsole, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	mux.Handle("GET /{$}", http.RedirectHandler(PathConsole, http.StatusFound))
}
