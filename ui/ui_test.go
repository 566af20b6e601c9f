package ui

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestVendoredAssets checks that the vendored libraries are the files of
// the npm packages that npm/package-lock.json pins: each file under
// assets/vendor is listed in SOURCES with its package, version and SHA-256,
// the versions are the lock file's, and (where npm/node_modules exists,
// after npm/sync.sh) the bytes are those of the installed package.
func TestVendoredAssets(t *testing.T) {
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	b, err := os.ReadFile("npm/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err = os.ReadFile("npm/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	exact := regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	for name, v := range pkg.Dependencies {
		if !exact.MatchString(v) {
			t.Errorf("package.json: %s %q is not an exact version", name, v)
		}
		if got := lock.Packages["node_modules/"+name].Version; got != v {
			t.Errorf("package-lock.json has %s %q, package.json %q", name, got, v)
		}
	}

	src, err := fs.ReadFile(FS(), "vendor/SOURCES")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			t.Fatalf("SOURCES line %q: want <file> <package>@<version> <path> <sha256>", sc.Text())
		}
		file, at, path, sum := f[0], f[1], f[2], f[3]
		name, version, _ := strings.Cut(at, "@")
		listed[file] = true
		if pkg.Dependencies[name] != version {
			t.Errorf("%s comes from %s %s, but package.json pins %q: run ui/npm/sync.sh", file, name, version, pkg.Dependencies[name])
		}
		data, err := fs.ReadFile(FS(), "vendor/"+file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
			t.Errorf("vendor/%s differs from %s %s (edited by hand? run ui/npm/sync.sh)", file, at, path)
		}
		if orig, err := os.ReadFile(filepath.Join("npm/node_modules", name, path)); err == nil && !bytes.Equal(orig, data) {
			t.Errorf("vendor/%s differs from npm/node_modules/%s/%s", file, name, path)
		}
	}
	for name := range pkg.Dependencies {
		if !listed[name+"-LICENSE"] {
			t.Errorf("no licence of %s in vendor/", name)
		}
	}
	entries, err := fs.ReadDir(FS(), "vendor")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "SOURCES" && !listed[e.Name()] {
			t.Errorf("vendor/%s is not in SOURCES", e.Name())
		}
	}
}

// TestIndexNamesOnlyEmbeddedFiles checks that every file index.html loads
// is embedded (the dashboard works offline: nothing from another site).
func TestIndexNamesOnlyEmbeddedFiles(t *testing.T) {
	idx, err := fs.ReadFile(FS(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(string(idx), -1)
	if len(refs) < 5 {
		t.Fatalf("index.html loads %d files, want the app, its style and the vendored libraries", len(refs))
	}
	for _, m := range refs {
		if strings.Contains(m[1], "//") || strings.HasPrefix(m[1], "/") {
			t.Errorf("index.html loads %q: not a relative path to an embedded file", m[1])
			continue
		}
		if _, err := fs.Stat(FS(), m[1]); err != nil {
			t.Errorf("index.html loads %q, which is not embedded", m[1])
		}
	}
	if bytes.Contains(idx, []byte("<script>")) || bytes.Contains(idx, []byte(" style=")) {
		t.Error("index.html has inline script or style, which the Content-Security-Policy refuses")
	}
}

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestHandler(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/ui/", "/ui/index.html"} {
		resp := get(t, h, "GET", path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte(`id="login-form"`)) {
			t.Fatalf("GET %s: %d %s %.80q", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Fatalf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
	for path, ctype := range map[string]string{"/ui/app.js": "text/javascript", "/ui/app.css": "text/css", "/ui/vendor/uplot-uPlot.iife.min.js": "text/javascript"} {
		resp := get(t, h, "GET", path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, path := range []string{"/ui/missing.js", "/ui/../ui.go", "/ui/vendor/", "/ui/vendor/nothing"} {
		if resp := get(t, h, "GET", path); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp := get(t, h, "POST", "/ui/"); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /ui/: %d, want 405", resp.StatusCode)
	}
}

// TestNoMarkupFromStrings keeps the pages free of the ways data from the
// network (agent versions, messages, record values) could become markup:
// elements are built with h() and text is set as text.
func TestNoMarkupFromStrings(t *testing.T) {
	js, err := fs.ReadFile(FS(), "app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if bytes.Contains(js, []byte(bad)) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
