package discovery

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"tessera/protocol"
)

// The status page and its assets are embedded: the page works on a LAN
// without internet (no CDN, no external font).
//
//go:embed assets/page.html assets/registry.js assets/registry.css
var assetFS embed.FS

const assetsPrefix = "/assets/"

var pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"ago":     func(now, t time.Time) string { return now.Sub(t).Truncate(time.Second).String() + " ago" },
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"state": func(st protocol.NodeState) string {
		if st == "" {
			return string(protocol.StateReady) // a node of an earlier version
		}
		return string(st)
	},
}).ParseFS(assetFS, "assets/page.html"))

// pageData is what the page template shows.
type pageData struct {
	Now        time.Time
	Nodes      []Record
	TTL        time.Duration
	MaxNodes   int
	Token      bool
	TotalCores int
}

// servePage renders GET /: a table of the live nodes, refreshed by
// assets/registry.js from /v1/nodes every two seconds (and by a meta refresh
// when scripts are off).
func (r *Registry) servePage(w http.ResponseWriter, req *http.Request) {
	d := pageData{Now: r.cfg.Now(), Nodes: r.Nodes(), TTL: r.cfg.TTL, MaxNodes: r.cfg.MaxNodes, Token: r.cfg.Token != ""}
	for _, n := range d.Nodes {
		d.TotalCores += n.Cores
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:")
	_, _ = w.Write(buf.Bytes())
}

// serveAsset serves the embedded script and style sheet.
func serveAsset(w http.ResponseWriter, req *http.Request) {
	name := "assets/" + strings.TrimPrefix(req.URL.Path, assetsPrefix)
	data, err := fs.ReadFile(assetFS, name)
	if err != nil || name == "assets/page.html" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"no such asset"}` + "\n"))
		return
	}
	ct := "text/plain; charset=utf-8"
	switch {
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(data)
}
