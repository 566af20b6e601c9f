package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type tarEntry struct {
	name, body, link string
	dir              bool
}

func tarOf(t *testing.T, entries ...tarEntry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		switch {
		case e.dir:
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		case e.link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return &buf
}

// A directory archive lands under -o with the CID directory stripped, and
// appears only once complete.
func TestExtractTar(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "photos")
	n, err := extractTar(tarOf(t,
		tarEntry{name: "bafyroot", dir: true},
		tarEntry{name: "bafyroot/a.txt", body: "alpha"},
		tarEntry{name: "bafyroot/empty"},
		tarEntry{name: "bafyroot/sub", dir: true},
		tarEntry{name: "bafyroot/sub/b.txt", body: "bravo"},
		tarEntry{name: "bafyroot/link", link: "sub/b.txt"},
	), dst)
	if err != nil || n != 10 {
		t.Fatalf("extract: %d bytes, %v", n, err)
	}
	for name, want := range map[string]string{"a.txt": "alpha", "empty": "", "sub/b.txt": "bravo", "link": "bravo"} {
		if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", name, b, err, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(dst))
	if len(entries) != 1 {
		t.Fatalf("left behind %v", entries)
	}
}

func TestExtractTarRefusesEscapes(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []tarEntry
		msg     string
	}{
		{"dotdot", []tarEntry{{name: "root", dir: true}, {name: "root/../../evil", body: "x"}}, "outside the directory"},
		{"absolute", []tarEntry{{name: "/etc/evil", body: "x"}}, "outside the directory"},
		{"through a link", []tarEntry{{name: "root", dir: true}, {name: "root/l", link: "/tmp"}, {name: "root/l/evil", body: "x"}}, "under the symbolic link"},
		{"truncated", nil, "unexpected EOF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var r io.Reader
			if c.entries == nil {
				full := tarOf(t, tarEntry{name: "root", dir: true}, tarEntry{name: "root/a", body: strings.Repeat("a", 4096)})
				r = bytes.NewReader(full.Bytes()[:1500])
			} else {
				r = tarOf(t, c.entries...)
			}
			dst := filepath.Join(dir, "out")
			_, err := extractTar(r, dst)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("extract: %v, want an error with %q", err, c.msg)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("a failed extraction left %v", entries)
			}
		})
	}
}

// A download cut halfway leaves no file at the output path.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "out.bin")
	cut := io.MultiReader(strings.NewReader("half"), errReader{errors.New("unexpected EOF")})
	if _, err := writeFileAtomic(cut, dst); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("write: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed write left %v", entries)
	}
	if n, err := writeFileAtomic(strings.NewReader("whole"), dst); err != nil || n != 5 {
		t.Fatalf("write: %d %v", n, err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "whole" {
		t.Fatalf("wrote %q", b)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestBarText(t *testing.T) {
	got := barText("get bafy", 25<<20, 100<<20, 3, 5*time.Second)
	want := "get bafy: [=====               ] 25.0 MiB of 100.0 MiB (25%), 5.0 MiB/s, 15s left, 3 peers"
	if got != want {
		t.Fatalf("bar\n%q, want\n%q", got, want)
	}
	if got := barText("add stdin", 2048, 0, -1, time.Second); got != "add stdin: 2.0 KiB, 2.0 KiB/s" {
		t.Fatalf("bar without a total: %q", got)
	}
}

// Bad input is refused before the daemon is asked (here there is none).
func TestFilesBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if err := run(t, "add", missing); err == nil || !strings.Contains(err.Error(), "add "+missing+": no such file or directory") {
		t.Fatalf("add of a missing path: %v", err)
	}
	existing := t.TempDir()
	if err := run(t, "get", "bafkqaaa", "-o", existing); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("get over an existing path: %v", err)
	}
	if err := run(t, "add"); err == nil {
		t.Fatal("add without a path succeeded")
	}
}
