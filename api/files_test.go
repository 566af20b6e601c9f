package api

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/files"
)

// memFiles is a files service in memory: a file's CID hashes its bytes, a
// directory's its sorted entries. It reads what Add is given as the real
// service does, through the boxo files.Node.
type memFiles struct {
	filesAPI
	mu      sync.Mutex
	objs    map[cid.Cid]memObj
	pins    map[cid.Cid]time.Time
	opts    []files.AddOptions
	added   chan uint64 // when not nil, receives the bytes read so far as Add reads
	catFail error       // when not nil, Cat's reader fails with it after the first bytes
}

type memObj struct {
	data []byte
	dir  map[string]cid.Cid
}

func newMemFiles() *memFiles {
	return &memFiles{objs: map[cid.Cid]memObj{}, pins: map[cid.Cid]time.Time{}}
}

func memCID(codec uint64, b []byte) cid.Cid {
	h, _ := mh.Sum(b, mh.SHA2_256, -1)
	return cid.NewCidV1(codec, h)
}

func (m *memFiles) store(nd bfiles.Node, onlyHash bool) (cid.Cid, uint64, error) {
	switch nd := nd.(type) {
	case bfiles.Directory:
		dir := map[string]cid.Cid{}
		var size uint64
		it := nd.Entries()
		for it.Next() {
			c, n, err := m.store(it.Node(), onlyHash)
			if err != nil {
				return cid.Undef, 0, err
			}
			dir[it.Name()] = c
			size += n
		}
		if err := it.Err(); err != nil {
			return cid.Undef, 0, err
		}
		var desc []string
		for name, c := range dir {
			desc = append(desc, name+" "+c.String())
		}
		slices.Sort(desc)
		c := memCID(cid.DagProtobuf, []byte(strings.Join(desc, "\n")))
		if !onlyHash {
			m.objs[c] = memObj{dir: dir}
		}
		return c, size, nil
	case bfiles.File:
		var buf bytes.Buffer
		chunk := make([]byte, 64<<10)
		for {
			n, err := nd.Read(chunk)
			buf.Write(chunk[:n])
			if n > 0 && m.added != nil {
				m.added <- uint64(buf.Len())
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return cid.Undef, 0, err
			}
		}
		c := memCID(cid.Raw, buf.Bytes())
		if !onlyHash {
			m.objs[c] = memObj{data: buf.Bytes()}
		}
		return c, uint64(buf.Len()), nil
	}
	return cid.Undef, 0, fmt.Errorf("unsupported node %T", nd)
}

func (m *memFiles) Add(ctx context.Context, nd bfiles.Node, opts files.AddOptions) (files.Added, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opts = append(m.opts, opts)
	c, size, err := m.store(nd, opts.OnlyHash)
	if err != nil {
		return files.Added{}, fmt.Errorf("import: %w", err)
	}
	if opts.Pin {
		m.pins[c] = time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	}
	return files.Added{CID: c, Size: size, Blocks: 1}, nil
}

func (m *memFiles) obj(c cid.Cid) (memObj, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[c]
	if !ok {
		return memObj{}, fmt.Errorf("%s: %w: no provider had it (2 providers tried)", c, files.ErrNotFound)
	}
	return o, nil
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func (m *memFiles) Cat(ctx context.Context, c cid.Cid) (io.ReadCloser, error) {
	o, err := m.obj(c)
	if err != nil {
		return nil, err
	}
	if o.dir != nil {
		return nil, fmt.Errorf("cat %s: %w: it is a directory", c, files.ErrNotFile)
	}
	if m.catFail != nil {
		return io.NopCloser(&failingReader{r: bytes.NewReader(o.data), err: m.catFail}), nil
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

func (m *memFiles) node(c cid.Cid) (bfiles.Node, error) {
	o, err := m.obj(c)
	if err != nil {
		return nil, err
	}
	if o.dir == nil {
		return bfiles.NewBytesFile(o.data), nil
	}
	entries := map[string]bfiles.Node{}
	for name, cc := range o.dir {
		if entries[name], err = m.node(cc); err != nil {
			return nil, err
		}
	}
	return bfiles.NewMapDirectory(entries), nil
}

func (m *memFiles) Get(ctx context.Context, c cid.Cid) (bfiles.Node, error) { return m.node(c) }

func (m *memFiles) Ls(ctx context.Context, c cid.Cid) ([]files.Entry, error) {
	o, err := m.obj(c)
	if err != nil {
		return nil, err
	}
	if o.dir == nil {
		return []files.Entry{{Name: c.String(), CID: c, Size: uint64(len(o.data))}}, nil
	}
	var out []files.Entry
	for name, cc := range o.dir {
		sub, _ := m.obj(cc)
		out = append(out, files.Entry{Name: name, CID: cc, Size: uint64(len(sub.data)), Dir: sub.dir != nil})
	}
	slices.SortFunc(out, func(a, b files.Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memFiles) Stat(ctx context.Context, c cid.Cid) (files.Stat, error) {
	o, err := m.obj(c)
	if err != nil {
		return files.Stat{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, pinned := m.pins[c]
	return files.Stat{CID: c, Dir: o.dir != nil, Size: uint64(len(o.data)), Blocks: 1, LocalBlocks: 1, Local: true, Pinned: pinned}, nil
}

func (m *memFiles) Fetch(ctx context.Context, c cid.Cid, progress func(files.FetchProgress)) (files.Fetched, error) {
	o, err := m.obj(c)
	if err != nil {
		return files.Fetched{}, err
	}
	if progress != nil {
		progress(files.FetchProgress{Bytes: 1, TotalBytes: uint64(len(o.data)), Blocks: 1, TotalBlocks: 2, Peers: 1})
		progress(files.FetchProgress{Bytes: uint64(len(o.data)), TotalBytes: uint64(len(o.data)), Blocks: 2, TotalBlocks: 2, Peers: 2})
	}
	return files.Fetched{CID: c, Bytes: uint64(len(o.data)), Blocks: 2, Peers: 2, Duration: 1500 * time.Microsecond}, nil
}

func (m *memFiles) Providers(ctx context.Context, c cid.Cid, max int) ([]peer.AddrInfo, error) {
	if _, err := m.obj(c); err != nil {
		return nil, err
	}
	return nil, nil
}

func (m *memFiles) Pin(ctx context.Context, c cid.Cid) error {
	if _, err := m.obj(c); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pins[c] = time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	return nil
}

func (m *memFiles) Unpin(ctx context.Context, c cid.Cid) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pins[c]; !ok {
		return fmt.Errorf("unpin %s: %w", c, files.ErrNotPinned)
	}
	delete(m.pins, c)
	return nil
}

func (m *memFiles) Pins(ctx context.Context) ([]files.Pin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []files.Pin
	for c, since := range m.pins {
		out = append(out, files.Pin{CID: c, Since: since})
	}
	return out, nil
}

func (m *memFiles) GC(ctx context.Context) (files.GCResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var res files.GCResult
	for c, o := range m.objs {
		if _, ok := m.pins[c]; !ok && o.dir == nil {
			res.Blocks++
			res.Bytes += uint64(len(o.data))
			delete(m.objs, c)
		}
	}
	return res, nil
}

func newFilesAPI(t *testing.T) (http.Handler, *memFiles) {
	t.Helper()
	m := newMemFiles()
	return newTestAPI(t, func(s *Services) { s.Files = m }, nil), m
}

// postUpload sends a request body with a content type and returns the status and body.
func postUpload(t *testing.T, h http.Handler, path, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest("POST", path, body)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// multipartOf encodes a directory tree as boxo's client does (parts named
// by path, directories as application/x-directory parts).
func multipartOf(root bfiles.Directory) (string, io.Reader) {
	mfr := bfiles.NewMultiFileReader(root, true, false)
	return "multipart/form-data; boundary=" + mfr.Boundary(), mfr
}

func TestFilesAddRawAndCat(t *testing.T) {
	h, m := newFilesAPI(t)
	content := bytes.Repeat([]byte("plexus "), 100_000)
	code, body := postUpload(t, h, "/v1/files/add?name=a.txt", "application/octet-stream", bytes.NewReader(content))
	var added wire.Added
	if code != 200 {
		t.Fatalf("add: %d %s", code, body)
	}
	decodeJSON(t, body, &added)
	want := memCID(cid.Raw, content)
	if added.CID != want.String() || added.Size != uint64(len(content)) || added.Blocks != 1 {
		t.Fatalf("added %+v, want %s of %d bytes", added, want, len(content))
	}
	if len(m.opts) != 1 || !m.opts[0].Pin || m.opts[0].OnlyHash {
		t.Fatalf("add options %+v: want pin by default", m.opts)
	}
	code, got := call(t, h, "GET", "/v1/files/cat?cid="+added.CID, "")
	if code != 200 || !bytes.Equal(got, content) {
		t.Fatalf("cat: %d, %d bytes, want the %d bytes added", code, len(got), len(content))
	}
	// get of a file is its bytes too.
	req := httptest.NewRequest("GET", "/v1/files/get?cid="+added.CID, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/octet-stream" || !bytes.Equal(rec.Body.Bytes(), content) {
		t.Fatalf("get of a file: %d %s, %d bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}

	// only_hash stores nothing and pins nothing.
	code, body = postUpload(t, h, "/v1/files/add?only_hash=true", "application/octet-stream", strings.NewReader("hash me"))
	if code != 200 {
		t.Fatalf("only_hash: %d %s", code, body)
	}
	decodeJSON(t, body, &added)
	if added.CID != memCID(cid.Raw, []byte("hash me")).String() || !m.opts[1].OnlyHash || m.opts[1].Pin {
		t.Fatalf("only_hash: %+v with options %+v", added, m.opts[1])
	}
	code, body = call(t, h, "GET", "/v1/files/cat?cid="+added.CID, "")
	wantError(t, code, body, 404, wire.CodeNotFound, "2 providers tried")

	// pin=false adds without pinning; wrap with a name makes a directory.
	code, body = postUpload(t, h, "/v1/files/add?pin=false&wrap=true&name=hello.txt", "text/plain", strings.NewReader("hello"))
	if code != 200 {
		t.Fatalf("wrap: %d %s", code, body)
	}
	decodeJSON(t, body, &added)
	if m.opts[2].Pin {
		t.Fatal("pin=false pinned")
	}
	var ls []wire.FileEntry
	code, body = call(t, h, "GET", "/v1/files/ls?cid="+added.CID, "")
	if code != 200 {
		t.Fatalf("ls: %d %s", code, body)
	}
	decodeJSON(t, body, &ls)
	if len(ls) != 1 || ls[0].Name != "hello.txt" || ls[0].Size != 5 || ls[0].Dir || ls[0].CID != memCID(cid.Raw, []byte("hello")).String() {
		t.Fatalf("ls of the wrapped file: %+v", ls)
	}
}

func TestFilesAddDirectoryAndGetTar(t *testing.T) {
	h, _ := newFilesAPI(t)
	tree := bfiles.NewMapDirectory(map[string]bfiles.Node{
		"photos": bfiles.NewMapDirectory(map[string]bfiles.Node{
			"a.txt": bfiles.NewBytesFile([]byte("alpha")),
			"empty": bfiles.NewBytesFile(nil),
			"sub":   bfiles.NewMapDirectory(map[string]bfiles.Node{"b.txt": bfiles.NewBytesFile([]byte("bravo"))}),
		}),
	})
	ct, body := multipartOf(tree)
	code, out := postUpload(t, h, "/v1/files/add", ct, body)
	if code != 200 {
		t.Fatalf("add directory: %d %s", code, out)
	}
	var added wire.Added
	decodeJSON(t, out, &added)
	if added.Size != 10 {
		t.Fatalf("added %+v, want 10 bytes", added)
	}
	var ls []wire.FileEntry
	code, out = call(t, h, "GET", "/v1/files/ls?cid="+added.CID, "")
	if code != 200 {
		t.Fatalf("ls: %d %s", code, out)
	}
	decodeJSON(t, out, &ls)
	var names []string
	for _, e := range ls {
		names = append(names, fmt.Sprintf("%s:%v", e.Name, e.Dir))
	}
	if strings.Join(names, " ") != "a.txt:false empty:false sub:true" {
		t.Fatalf("ls: %v (the top-level directory photos is the root)", names)
	}

	req := httptest.NewRequest("GET", "/v1/files/get?cid="+added.CID, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/x-tar" {
		t.Fatalf("get: %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	got := map[string]string{}
	tr := tar.NewReader(rec.Body)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if hdr.Typeflag == tar.TypeDir {
			got[hdr.Name] = "/"
		} else {
			got[hdr.Name] = string(b)
		}
	}
	c := added.CID
	want := map[string]string{c: "/", c + "/a.txt": "alpha", c + "/empty": "", c + "/sub": "/", c + "/sub/b.txt": "bravo"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tar entries %v, want %v", got, want)
	}
}

func TestFilesAddMultipartEntries(t *testing.T) {
	h, _ := newFilesAPI(t)
	two := func() bfiles.Directory {
		return bfiles.NewMapDirectory(map[string]bfiles.Node{
			"a.txt": bfiles.NewBytesFile([]byte("alpha")),
			"b.txt": bfiles.NewBytesFile([]byte("bravo")),
		})
	}
	// One file: its CID is the file's.
	ct, body := multipartOf(bfiles.NewMapDirectory(map[string]bfiles.Node{"a.txt": bfiles.NewBytesFile([]byte("alpha"))}))
	code, out := postUpload(t, h, "/v1/files/add", ct, body)
	var added wire.Added
	if code != 200 {
		t.Fatalf("one file: %d %s", code, out)
	}
	decodeJSON(t, out, &added)
	if added.CID != memCID(cid.Raw, []byte("alpha")).String() {
		t.Fatalf("one file: %+v", added)
	}
	// Two top-level files: refused, unless wrapped.
	ct, body = multipartOf(two())
	code, out = postUpload(t, h, "/v1/files/add", ct, body)
	wantError(t, code, out, 400, wire.CodeInvalidArgument, "more than one top-level file or directory")
	ct, body = multipartOf(two())
	code, out = postUpload(t, h, "/v1/files/add?wrap=true", ct, body)
	if code != 200 {
		t.Fatalf("wrapped: %d %s", code, out)
	}
	decodeJSON(t, out, &added)
	if added.Size != 10 {
		t.Fatalf("wrapped: %+v", added)
	}
	// A directory followed by another top-level file is refused too.
	ct, body = multipartOf(bfiles.NewMapDirectory(map[string]bfiles.Node{
		"d": bfiles.NewMapDirectory(map[string]bfiles.Node{"x": bfiles.NewBytesFile([]byte("x"))}),
		"z": bfiles.NewBytesFile([]byte("z")),
	}))
	code, out = postUpload(t, h, "/v1/files/add", ct, body)
	wantError(t, code, out, 400, wire.CodeInvalidArgument, "more than one top-level")

	// An empty multipart body, a broken one.
	var empty bytes.Buffer
	mw := multipart.NewWriter(&empty)
	mw.Close()
	code, out = postUpload(t, h, "/v1/files/add", mw.FormDataContentType(), &empty)
	wantError(t, code, out, 400, wire.CodeInvalidArgument, "the upload is empty")
	code, out = postUpload(t, h, "/v1/files/add", "multipart/form-data; boundary=xyz", strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc"))
	wantError(t, code, out, 400, wire.CodeInvalidArgument, "upload")
	code, out = postUpload(t, h, "/v1/files/add", "multipart/form-data", strings.NewReader(""))
	wantError(t, code, out, 400, wire.CodeInvalidArgument, "multipart upload")
}

func TestFilesAddBadQuery(t *testing.T) {
	h, m := newFilesAPI(t)
	for _, c := range []struct{ query, msg string }{
		{"?only_hash=maybe", `invalid only_hash "maybe"`},
		{"?pin=yes", `invalid pin "yes"`},
		{"?only_hash=true&pin=true", "nothing to pin"},
		{"?wrap=true", "needs ?name="},
		{"?wrap=true&name=a/b", "no slashes"},
	} {
		code, body := postUpload(t, h, "/v1/files/add"+c.query, "application/octet-stream", strings.NewReader("x"))
		wantError(t, code, body, 400, wire.CodeInvalidArgument, c.msg)
	}
	if len(m.opts) != 0 {
		t.Fatalf("Add was called for bad input: %+v", m.opts)
	}
}

// The upload reaches the service as it arrives: the service has read the
// first mebibyte while the client still holds back the rest.
func TestFilesAddStreams(t *testing.T) {
	h, m := newFilesAPI(t)
	m.added = make(chan uint64, 1024)
	pr, pw := io.Pipe()
	done := make(chan struct{})
	var code int
	var body []byte
	go func() {
		defer close(done)
		code, body = postUpload(t, h, "/v1/files/add", "application/octet-stream", pr)
	}()
	chunk := bytes.Repeat([]byte{7}, 1<<20)
	if _, err := pw.Write(chunk); err != nil {
		t.Fatal(err)
	}
	for got := uint64(0); got < uint64(len(chunk)); {
		select {
		case got = <-m.added:
		case <-time.After(10 * time.Second):
			t.Fatal("the service has not seen the first MiB while the upload is open: the API buffers it")
		}
	}
	pw.Write(chunk)
	pw.Close()
	<-done
	if code != 200 {
		t.Fatalf("add: %d %s", code, body)
	}
	var added wire.Added
	decodeJSON(t, body, &added)
	if added.Size != 2<<20 {
		t.Fatalf("added %+v, want 2 MiB", added)
	}
}

func TestFilesBadCIDs(t *testing.T) {
	h, _ := newFilesAPI(t)
	for _, c := range []struct{ method, path, body, msg string }{
		{"GET", "/v1/files/cat?cid=banana", "", `invalid CID "banana"`},
		{"GET", "/v1/files/get?cid=Qm123", "", `invalid CID "Qm123"`},
		{"GET", "/v1/files/ls", "", "missing cid"},
		{"GET", "/v1/files/stat?cid=bafy", "", `invalid CID "bafy"`},
		{"GET", "/v1/files/providers?cid=x", "", `invalid CID "x"`},
		{"POST", "/v1/files/pin", `{"cid":"nope"}`, `invalid CID "nope"`},
		{"POST", "/v1/files/fetch", `{"cid":""}`, "missing cid"},
		{"POST", "/v1/files/unpin", `{"cid":"zzz"}`, `invalid CID "zzz"`},
		{"DELETE", "/v1/files/pin?cid=%20", "", "missing cid"},
	} {
		code, body := call(t, h, c.method, c.path, c.body)
		wantError(t, code, body, 400, wire.CodeInvalidArgument, c.msg)
	}
	c := memCID(cid.Raw, []byte("x")).String()
	code, body := call(t, h, "GET", "/v1/files/providers?cid="+c+"&count=0", "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, `invalid count "0"`)
}

func TestFilesErrors(t *testing.T) {
	h, _ := newFilesAPI(t)
	missing := memCID(cid.Raw, []byte("nobody has this")).String()
	for _, path := range []string{"/v1/files/cat?cid=", "/v1/files/get?cid=", "/v1/files/ls?cid=", "/v1/files/stat?cid="} {
		code, body := call(t, h, "GET", path+missing, "")
		wantError(t, code, body, 404, wire.CodeNotFound, missing+": not found: no provider had it (2 providers tried)")
	}
	code, body := call(t, h, "POST", "/v1/files/pin", `{"cid":"`+missing+`"}`)
	wantError(t, code, body, 404, wire.CodeNotFound, "2 providers tried")
	code, body = call(t, h, "DELETE", "/v1/files/pin?cid="+missing, "")
	wantError(t, code, body, 404, wire.CodeNotFound, "not pinned")

	ct, up := multipartOf(bfiles.NewMapDirectory(map[string]bfiles.Node{"d": bfiles.NewMapDirectory(map[string]bfiles.Node{"x": bfiles.NewBytesFile([]byte("x"))})}))
	code, body = postUpload(t, h, "/v1/files/add", ct, up)
	var dir wire.Added
	decodeJSON(t, body, &dir)
	code, body = call(t, h, "GET", "/v1/files/cat?cid="+dir.CID, "")
	wantError(t, code, body, 400, wire.CodeInvalidArgument, "it is a directory")
}

// A download that fails after its first bytes is cut, never presented as
// complete.
func TestFilesCatFailsMidway(t *testing.T) {
	m := newMemFiles()
	h := newTestAPI(t, func(s *Services) { s.Files = m }, nil)
	ts := httptest.NewServer(h)
	defer ts.Close()
	data := bytes.Repeat([]byte("z"), 1<<20)
	m.objs[memCID(cid.Raw, data)] = memObj{data: data}
	m.catFail = errors.New("disk read error")
	req, _ := http.NewRequest("GET", ts.URL+"/v1/files/cat?cid="+memCID(cid.Raw, data).String(), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("read %d bytes and a clean end, want a broken answer", len(got))
	}
}

func TestFilesPinsGCStatFetch(t *testing.T) {
	h, _ := newFilesAPI(t)
	var a, b wire.Added
	_, body := postUpload(t, h, "/v1/files/add", "application/octet-stream", strings.NewReader("keep me"))
	decodeJSON(t, body, &a)
	_, body = postUpload(t, h, "/v1/files/add?pin=false", "application/octet-stream", strings.NewReader("drop me"))
	decodeJSON(t, body, &b)

	var pins []wire.Pin
	code, body := call(t, h, "GET", "/v1/files/pins", "")
	if code != 200 {
		t.Fatalf("pins: %d %s", code, body)
	}
	decodeJSON(t, body, &pins)
	if len(pins) != 1 || pins[0].CID != a.CID || pins[0].Since == nil || !pins[0].Since.Equal(time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)) {
		t.Fatalf("pins %+v", pins)
	}
	var st wire.FileStat
	code, body = call(t, h, "GET", "/v1/files/stat?cid="+a.CID, "")
	if code != 200 {
		t.Fatalf("stat: %d %s", code, body)
	}
	decodeJSON(t, body, &st)
	if st.CID != a.CID || !st.Pinned || !st.Local || st.Size != 7 || st.Dir {
		t.Fatalf("stat %+v", st)
	}
	var gc wire.GCResult
	code, body = call(t, h, "POST", "/v1/files/gc", "")
	if code != 200 {
		t.Fatalf("gc: %d %s", code, body)
	}
	decodeJSON(t, body, &gc)
	if gc.Blocks != 1 || gc.Bytes != 7 {
		t.Fatalf("gc %+v, want the unpinned file's block", gc)
	}
	if code, _ := call(t, h, "GET", "/v1/files/cat?cid="+b.CID, ""); code != 404 {
		t.Fatalf("cat after gc: %d, want 404", code)
	}
	if code, body := call(t, h, "GET", "/v1/files/cat?cid="+a.CID, ""); code != 200 || string(body) != "keep me" {
		t.Fatalf("the pinned file after gc: %d %q", code, body)
	}
	// Unpin both ways; the second time it is not pinned.
	var p wire.Pin
	code, body = call(t, h, "POST", "/v1/files/unpin", `{"cid":"`+a.CID+`"}`)
	if code != 200 {
		t.Fatalf("unpin: %d %s", code, body)
	}
	decodeJSON(t, body, &p)
	if p.CID != a.CID {
		t.Fatalf("unpin answered %+v", p)
	}
	code, body = call(t, h, "DELETE", "/v1/files/pin?cid="+a.CID, "")
	wantError(t, code, body, 404, wire.CodeNotFound, "not pinned")
	code, body = call(t, h, "POST", "/v1/files/pin", `{"cid":"`+a.CID+`"}`)
	if code != 200 {
		t.Fatalf("pin: %d %s", code, body)
	}

	// Fetch: plain JSON, or progress events then the result.
	var f wire.Fetched
	code, body = call(t, h, "POST", "/v1/files/fetch", `{"cid":"`+a.CID+`"}`)
	if code != 200 {
		t.Fatalf("fetch: %d %s", code, body)
	}
	decodeJSON(t, body, &f)
	if f.CID != a.CID || f.Blocks != 2 || f.Peers != 2 || f.DurationMS != 1.5 {
		t.Fatalf("fetched %+v", f)
	}
	req := httptest.NewRequest("POST", "/v1/files/fetch", strings.NewReader(`{"cid":"`+a.CID+`"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", "text/event-stream")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	out := rec.Body.String()
	if !strings.Contains(out, "event: progress\ndata: {\"bytes\":1,\"total_bytes\":7,\"blocks\":1,\"total_blocks\":2,\"peers\":1}") ||
		!strings.Contains(out, "event: result\ndata: {\"cid\":\""+a.CID+"\"") {
		t.Fatalf("fetch progress stream:\n%s", out)
	}
}

func TestFilesEventWire(t *testing.T) {
	c := memCID(cid.Raw, []byte("e"))
	for _, tc := range []struct {
		in   any
		want any
	}{
		{files.AddedEvent{CID: c, Size: 5, Blocks: 1}, wire.Added{CID: c.String(), Size: 5, Blocks: 1}},
		{files.FetchProgressEvent{CID: c, FetchProgress: files.FetchProgress{Bytes: 3, TotalBytes: 9, Blocks: 1, TotalBlocks: 3, Peers: 2}},
			wire.FetchProgress{CID: c.String(), Bytes: 3, TotalBytes: 9, Blocks: 1, TotalBlocks: 3, Peers: 2}},
		{files.FetchedEvent{Fetched: files.Fetched{CID: c, Bytes: 9, Blocks: 3, Peers: 2, Duration: 2 * time.Millisecond}},
			wire.Fetched{CID: c.String(), Bytes: 9, Blocks: 3, Peers: 2, DurationMS: 2}},
		{files.ProvidedEvent{CID: c}, wire.ProvidedEvent{CID: c.String()}},
	} {
		if got := eventWire(tc.in); got != tc.want {
			t.Errorf("eventWire(%#v) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	if _, ok := filesEventWire("not a files event"); ok {
		t.Fatal("filesEventWire converted a foreign payload")
	}
}

// The typed client against the routes: a directory tree from disk (hidden
// files skipped unless asked for, a symbolic link kept), a stream with its
// progress, the download of both, and errors with their classes.
func TestFilesClient(t *testing.T) {
	m := newMemFiles()
	ts := httptest.NewServer(newTestAPI(t, func(s *Services) { s.Files = m }, nil))
	defer ts.Close()
	c := client.New(ts.URL, testToken)
	ctx := t.Context()

	root := filepath.Join(t.TempDir(), "site")
	for name, body := range map[string]string{"index.html": "<h1>hi</h1>", "css/a.css": "a{}", ".git/HEAD": "ref", "css/.hidden": "h"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755)
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("index.html", filepath.Join(root, "home.html")); err != nil {
		t.Fatal(err)
	}
	var sent uint64
	added, err := c.AddPath(ctx, root, client.AddOptions{Sent: func(n uint64) { sent = n }})
	if err != nil {
		t.Fatal(err)
	}
	if added.Size != uint64(len("<h1>hi</h1>")+len("a{}")+len("index.html")) || sent != uint64(len("<h1>hi</h1>")+len("a{}")) {
		t.Fatalf("added %+v, sent %d: want the two visible files and the link", added, sent)
	}
	es, err := c.Ls(ctx, added.CID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	if strings.Join(names, " ") != "css home.html index.html" {
		t.Fatalf("ls %v: want the hidden .git left out", names)
	}
	withHidden, err := c.AddPath(ctx, root, client.AddOptions{Hidden: true, NoPin: true})
	if err != nil || withHidden.CID == added.CID || withHidden.Size != added.Size+4 {
		t.Fatalf("with hidden files: %+v %v", withHidden, err)
	}
	if !m.opts[0].Pin || m.opts[1].Pin {
		t.Fatalf("pin options %+v", m.opts)
	}

	dl, err := c.GetFiles(ctx, added.CID)
	if err != nil || !dl.Dir {
		t.Fatalf("get of a directory: %+v %v", dl, err)
	}
	tr := tar.NewReader(dl)
	var entries []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, hdr.Name)
	}
	dl.Close()
	if len(entries) != 5 || entries[0] != added.CID {
		t.Fatalf("tar entries %v", entries)
	}

	// A single file from disk and from a stream get the same CID.
	file := filepath.Join(root, "index.html")
	a1, err := c.AddPath(ctx, file, client.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sent = 0
	a2, err := c.AddReader(ctx, strings.NewReader("<h1>hi</h1>"), client.AddOptions{OnlyHash: true, Sent: func(n uint64) { sent = n }})
	if err != nil || a2.CID != a1.CID || sent != 11 || !m.opts[3].OnlyHash || m.opts[3].Pin {
		t.Fatalf("stream: %+v %v (file %+v), sent %d", a2, err, a1, sent)
	}
	rc, err := c.Cat(ctx, a1.CID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "<h1>hi</h1>" {
		t.Fatalf("cat %q", b)
	}
	dl, err = c.GetFiles(ctx, a1.CID)
	if err != nil || dl.Dir {
		t.Fatalf("get of a file: %+v %v", dl, err)
	}
	dl.Close()

	if _, err := c.Cat(ctx, "banana"); !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), `invalid CID "banana"`) {
		t.Fatalf("cat of a bad CID: %v", err)
	}
	if _, err := c.Unpin(ctx, withHidden.CID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("unpin of an unpinned CID: %v", err)
	}
	if _, err := c.AddPath(ctx, filepath.Join(root, "missing"), client.AddOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("add of a missing path: %v", err)
	}
	f, err := c.FetchProgress(ctx, a1.CID, func(p wire.FetchProgress) { sent = p.Bytes })
	if err != nil || f.CID != a1.CID || sent != 11 {
		t.Fatalf("fetch: %+v %v, last progress %d bytes", f, err, sent)
	}
	if _, err := c.Pin(ctx, a1.CID); err != nil {
		t.Fatal(err)
	}
	pins, err := c.Pins(ctx)
	if err != nil || len(pins) != 2 {
		t.Fatalf("pins %+v %v", pins, err)
	}
	st, err := c.FileStat(ctx, a1.CID)
	if err != nil || !st.Pinned || st.Size != 11 {
		t.Fatalf("stat %+v %v", st, err)
	}
	if _, err := c.FileProviders(ctx, a1.CID, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GC(ctx); err != nil {
		t.Fatal(err)
	}
}
