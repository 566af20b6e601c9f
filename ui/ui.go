// Package ui is the web dashboard: static assets embedded in the binary and
// served by the daemon at /ui/ (no CDN, nothing fetched at run time). The
// pages are plain JavaScript modules over the HTTP API and its event stream
// (assets/); the third-party libraries (uPlot for charts, Cytoscape for the
// network graph) are the built files of exact npm versions, copied by
// npm/sync.sh into assets/vendor and checked by TestVendoredAssets.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Prefix is where the daemon serves the dashboard.
const Prefix = "/ui/"

// FS returns the dashboard's files (index.html at the root).
func FS() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets/
	}
	return sub
}

// csp allows only this origin's own scripts, styles, images and
// connections (the API and its event stream): no inline script, no other
// site, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the dashboard under Prefix: the files of FS, index.html
// for the prefix itself. It needs no credentials (the pages hold no data;
// the API they call does) and answers only GET and HEAD.
func Handler() http.Handler {
	files := http.FileServerFS(FS())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), strings.TrimSuffix(Prefix, "/"))
		if name == "" || name == "/" || name == "/index.html" {
			// index.html names the other files; it must never be stale.
			h.Set("Cache-Control", "no-cache")
			serveIndex(w, r)
			return
		}
		if st, err := fs.Stat(FS(), strings.TrimPrefix(name, "/")); err != nil || st.IsDir() {
			http.NotFound(w, r) // no directory listings
			return
		}
		h.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = name
		files.ServeHTTP(w, r2)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(FS(), "index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b)
}
