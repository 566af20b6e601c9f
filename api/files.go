package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	bfiles "github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/files"
)

// Files is what the files routes need; *files.Service implements it.
// The API parses CIDs (an invalid one answers 400 naming it) and streams
// uploads and downloads: nothing holds a whole file in memory.
type Files interface {
	Add(ctx context.Context, n bfiles.Node, opts files.AddOptions) (files.Added, error)
	Fetch(ctx context.Context, c cid.Cid, progress func(files.FetchProgress)) (files.Fetched, error)
	Cat(ctx context.Context, c cid.Cid) (io.ReadCloser, error)
	Get(ctx context.Context, c cid.Cid) (bfiles.Node, error)
	Ls(ctx context.Context, c cid.Cid) ([]files.Entry, error)
	Stat(ctx context.Context, c cid.Cid) (files.Stat, error)
	Providers(ctx context.Context, c cid.Cid, max int) ([]peer.AddrInfo, error)
	Pin(ctx context.Context, c cid.Cid) error
	Unpin(ctx context.Context, c cid.Cid) error
	Pins(ctx context.Context) ([]files.Pin, error)
	GC(ctx context.Context) (files.GCResult, error)
}

// fetchProgressEvery spaces the progress events of POST /v1/files/fetch.
const fetchProgressEvery = 100 * time.Millisecond

// Bounds of GET /v1/files/providers?count=.
const (
	defaultFileProviders = 20
	maxFileProviders     = 100
)

// parseCID parses a CID (v0 or v1, any multibase).
func parseCID(s string) (cid.Cid, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return cid.Undef, invalid("missing cid: want a CID such as bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, invalid("invalid CID %q: want a CIDv1 such as bafybei... or a CIDv0 such as Qm... (%v)", s, conciseCIDError(err))
	}
	return c, nil
}

// conciseCIDError drops go-cid's repeated "invalid cid: " prefixes.
func conciseCIDError(err error) string {
	msg := err.Error()
	for {
		rest, ok := strings.CutPrefix(msg, "invalid cid: ")
		if !ok {
			return msg
		}
		msg = rest
	}
}

// queryCID parses the ?cid= parameter.
func queryCID(r *http.Request) (cid.Cid, error) { return parseCID(r.URL.Query().Get("cid")) }

// decodeCID reads a {"cid"} body; on bad JSON or a bad CID it has answered
// the error and returns false.
func (s *Server) decodeCID(w http.ResponseWriter, r *http.Request) (cid.Cid, bool) {
	var req wire.CIDRequest
	if !s.decode(w, r, &req) {
		return cid.Undef, false
	}
	c, err := parseCID(req.CID)
	if err != nil {
		s.fail(w, r, err)
		return cid.Undef, false
	}
	return c, true
}

// queryBool reads an optional boolean query parameter (def when absent).
func queryBool(r *http.Request, name string, def bool) (bool, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return def, nil
	}
	v := q.Get(name)
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid("invalid %s %q: want true or false", name, v)
	}
	return b, nil
}

// errUploadEntries is the answer to a multipart upload with more than one
// top-level entry and no ?wrap=true.
var errUploadEntries = invalid("the upload holds more than one top-level file or directory: name the parts DIR/FILE to upload " +
	"one directory, or add ?wrap=true to wrap them in one")

// postFilesAdd imports an upload: multipart/form-data parts whose filenames
// give their paths (one file, or one directory DIR whose parts are named
// DIR/..., or with ?wrap=true any number of entries wrapped in a directory),
// or any other body as the bytes of one file (?name= names it when wrapped).
// The upload is read as the importer consumes it.
func (s *Server) postFilesAdd(w http.ResponseWriter, r *http.Request) {
	onlyHash, err := queryBool(r, "only_hash", false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pin, err := queryBool(r, "pin", !onlyHash)
	if err == nil && onlyHash && pin {
		err = invalid("only_hash stores nothing, so there is nothing to pin: leave pin out or set it false")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wrap, err := queryBool(r, "wrap", false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u := &uploadWatch{}
	var nd bfiles.Node
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			s.fail(w, r, invalid("multipart upload: %w", err))
			return
		}
		root, err := bfiles.NewFileFromPartReader(mr, mt)
		if err != nil {
			s.fail(w, r, invalid("multipart upload: %w", err))
			return
		}
		if wrap {
			nd = u.wrap(root, false)
		} else if nd, err = u.single(root.Entries()); err != nil {
			s.fail(w, r, err)
			return
		}
	} else {
		nd = bfiles.NewReaderFile(&watchedReader{r: r.Body, u: u})
		if wrap {
			name := r.URL.Query().Get("name")
			if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
				s.fail(w, r, invalid("wrapping a raw upload needs ?name= with a file name (no slashes), got %q", name))
				return
			}
			nd = bfiles.NewMapDirectory(map[string]bfiles.Node{name: nd})
		}
	}
	added, err := s.svc.Files.Add(r.Context(), nd, files.AddOptions{OnlyHash: onlyHash, Pin: pin})
	if extra, rerr := u.result(); extra {
		err = errUploadEntries
	} else if err != nil && rerr != nil && r.Context().Err() == nil {
		err = invalid("read the upload: %w", rerr)
	}
	s.answer(w, r, wire.Added{CID: cidString(added.CID), Size: added.Size, Blocks: added.Blocks}, err)
}

// uploadWatch follows an upload as the importer reads it. It records the
// first error reading it, so that a malformed or truncated upload answers
// 400 whatever the importer makes of the error. For an upload of one
// top-level entry it checks, once the entry has been read, that no other
// follows: the parts arrive in order, so that is known only then.
type uploadWatch struct {
	mu    sync.Mutex
	err   error              // the first error reading the upload
	root  bfiles.DirIterator // the top-level entries, when only one is allowed
	extra bool               // another top-level entry followed the first
}

func (u *uploadWatch) record(err error) {
	if err == nil || err == io.EOF || errors.Is(err, errUploadEntries) {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err == nil {
		u.err = err
	}
}

func (u *uploadWatch) result() (extra bool, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.extra, u.err
}

// single returns the one top-level entry of root, watched.
func (u *uploadWatch) single(root bfiles.DirIterator) (bfiles.Node, error) {
	if !root.Next() {
		if err := root.Err(); err != nil {
			return nil, invalid("multipart upload: %w", err)
		}
		return nil, invalid("the upload is empty: send at least one part with a filename")
	}
	u.root = root
	return u.wrap(root.Node(), true), nil
}

// end is called when the top-level entry has been read whole.
func (u *uploadWatch) end() error {
	if u.root == nil {
		return nil
	}
	more := u.root.Next()
	err := u.root.Err()
	u.mu.Lock()
	u.extra = more
	u.mu.Unlock()
	if more {
		return errUploadEntries
	}
	u.record(err)
	return err
}

// wrap watches a node of the upload; top marks the top-level entry.
func (u *uploadWatch) wrap(nd bfiles.Node, top bool) bfiles.Node {
	switch nd := nd.(type) {
	case bfiles.Directory:
		return &watchedDir{Directory: nd, u: u, top: top}
	case *bfiles.Symlink:
		if top {
			if err := u.end(); err != nil {
				return &watchedFile{File: nd, u: u, err: err}
			}
		}
		return nd
	case bfiles.File:
		return &watchedFile{File: nd, u: u, top: top}
	}
	return nd
}

type watchedReader struct {
	r io.Reader
	u *uploadWatch
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.u.record(err)
	return n, err
}

type watchedFile struct {
	bfiles.File
	u    *uploadWatch
	top  bool
	done bool
	err  error // returned at once (a symlink followed by another entry)
}

func (f *watchedFile) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.File.Read(p)
	f.u.record(err)
	if err == io.EOF && f.top && !f.done {
		f.done = true
		if xerr := f.u.end(); xerr != nil {
			return n, xerr
		}
	}
	return n, err
}

type watchedDir struct {
	bfiles.Directory
	u   *uploadWatch
	top bool
}

func (d *watchedDir) Entries() bfiles.DirIterator {
	return &watchedIter{DirIterator: d.Directory.Entries(), u: d.u, top: d.top}
}

type watchedIter struct {
	bfiles.DirIterator
	u    *uploadWatch
	top  bool
	err  error
	done bool
}

func (it *watchedIter) Next() bool {
	if it.done {
		return false
	}
	if it.DirIterator.Next() {
		return true
	}
	it.done = true
	it.err = it.DirIterator.Err()
	it.u.record(it.err)
	if it.err == nil && it.top {
		it.err = it.u.end()
	}
	return false
}

func (it *watchedIter) Node() bfiles.Node { return it.u.wrap(it.DirIterator.Node(), false) }

func (it *watchedIter) Err() error { return it.err }

// getFilesCat streams a file's bytes.
func (s *Server) getFilesCat(w http.ResponseWriter, r *http.Request) {
	c, err := queryCID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rc, err := s.svc.Files.Cat(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer rc.Close()
	s.streamBytes(w, r, rc, "application/octet-stream", c.String())
}

// getFilesGet streams a file's bytes, or a directory as a tar archive whose
// entries are under a directory named by the CID.
func (s *Server) getFilesGet(w http.ResponseWriter, r *http.Request) {
	c, err := queryCID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	nd, err := s.svc.Files.Get(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer nd.Close()
	if f, ok := nd.(bfiles.File); ok && bfiles.ToSymlink(nd) == nil {
		s.streamBytes(w, r, f, "application/octet-stream", c.String())
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", `attachment; filename="`+c.String()+`.tar"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	tw, _ := bfiles.NewTarWriter(w)
	if err := tw.WriteFile(nd, c.String()); err != nil {
		s.abort(r, err)
	}
	if err := tw.Close(); err != nil {
		s.abort(r, err)
	}
}

// streamBytes copies rd to the answer. An error after the first byte cannot
// change the status: the connection is cut instead, so the client sees a
// truncated answer rather than a complete one.
func (s *Server) streamBytes(w http.ResponseWriter, r *http.Request, rd io.Reader, contentType, name string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	buf := make([]byte, 256<<10)
	n, err := io.ReadFull(rd, buf[:1])
	if err != nil && err != io.EOF {
		s.fail(w, r, err) // nothing written yet: a proper error answer
		return
	}
	w.WriteHeader(http.StatusOK)
	if n == 0 {
		return
	}
	if _, err := w.Write(buf[:1]); err != nil {
		return
	}
	if _, err := io.CopyBuffer(w, rd, buf); err != nil {
		s.abort(r, err)
	}
}

// abort cuts a streamed answer after an error.
func (s *Server) abort(r *http.Request, err error) {
	if r.Context().Err() == nil {
		s.log.Warn("streamed answer failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) postFilesFetch(w http.ResponseWriter, r *http.Request) {
	c, ok := s.decodeCID(w, r)
	if !ok {
		return
	}
	if wantsProgress(r) {
		s.streamProgress(w, r, "fetch", func(report func(any)) (any, error) {
			// The service reports every block: send at most 10 a second,
			// and the last one.
			var mu sync.Mutex
			var last time.Time
			f, err := s.svc.Files.Fetch(r.Context(), c, func(p files.FetchProgress) {
				mu.Lock()
				defer mu.Unlock()
				complete := p.TotalBytes > 0 && p.Bytes >= p.TotalBytes
				if now := time.Now(); complete || now.Sub(last) >= fetchProgressEvery {
					last = now
					report(fetchProgressWire(cid.Undef, p))
				}
			})
			return fetchedWire(f), err
		})
		return
	}
	f, err := s.svc.Files.Fetch(r.Context(), c, nil)
	s.answer(w, r, fetchedWire(f), err)
}

func (s *Server) getFilesLs(w http.ResponseWriter, r *http.Request) {
	c, err := queryCID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	es, err := s.svc.Files.Ls(r.Context(), c)
	out := make([]wire.FileEntry, len(es))
	for i, e := range es {
		out[i] = wire.FileEntry{Name: e.Name, CID: e.CID.String(), Size: e.Size, Dir: e.Dir}
	}
	s.answer(w, r, out, err)
}

func (s *Server) getFilesStat(w http.ResponseWriter, r *http.Request) {
	c, err := queryCID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.svc.Files.Stat(r.Context(), c)
	s.answer(w, r, wire.FileStat{CID: c.String(), Dir: st.Dir, Size: st.Size, Blocks: st.Blocks,
		LocalBlocks: st.LocalBlocks, Local: st.Local, Pinned: st.Pinned}, err)
}

func (s *Server) getFilesProviders(w http.ResponseWriter, r *http.Request) {
	c, err := queryCID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	count, err := queryInt(r, "count", defaultFileProviders, 1, maxFileProviders)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ais, err := s.svc.Files.Providers(r.Context(), c, count)
	out := make([]wire.Provider, len(ais))
	for i, ai := range ais {
		out[i] = wire.Provider{PeerID: ai.ID.String(), Addrs: addrStrings(ai.Addrs)}
	}
	s.answer(w, r, out, err)
}

func (s *Server) postFilesPin(w http.ResponseWriter, r *http.Request) {
	c, ok := s.decodeCID(w, r)
	if !ok {
		return
	}
	s.answer(w, r, wire.Pin{CID: c.String()}, s.svc.Files.Pin(r.Context(), c))
}

func (s *Server) deleteFilesPin(w http.ResponseWriter, r *http.Request) {
	c, err := queryCID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answer(w, r, wire.Pin{CID: c.String()}, s.svc.Files.Unpin(r.Context(), c))
}

func (s *Server) postFilesUnpin(w http.ResponseWriter, r *http.Request) {
	c, ok := s.decodeCID(w, r)
	if !ok {
		return
	}
	s.answer(w, r, wire.Pin{CID: c.String()}, s.svc.Files.Unpin(r.Context(), c))
}

func (s *Server) getFilesPins(w http.ResponseWriter, r *http.Request) {
	ps, err := s.svc.Files.Pins(r.Context())
	out := make([]wire.Pin, len(ps))
	for i, p := range ps {
		out[i] = wire.Pin{CID: p.CID.String()}
		if !p.Since.IsZero() {
			since := p.Since.UTC()
			out[i].Since = &since
		}
	}
	s.answer(w, r, out, err)
}

func (s *Server) postFilesGC(w http.ResponseWriter, r *http.Request) {
	res, err := s.svc.Files.GC(r.Context())
	s.answer(w, r, wire.GCResult{Blocks: res.Blocks, Bytes: res.Bytes}, err)
}

func fetchProgressWire(c cid.Cid, p files.FetchProgress) wire.FetchProgress {
	return wire.FetchProgress{CID: cidString(c), Bytes: p.Bytes, TotalBytes: p.TotalBytes, Blocks: p.Blocks,
		TotalBlocks: p.TotalBlocks, Peers: p.Peers}
}

func fetchedWire(f files.Fetched) wire.Fetched {
	return wire.Fetched{CID: cidString(f.CID), Bytes: f.Bytes, Blocks: f.Blocks, Peers: f.Peers, DurationMS: ms(f.Duration)}
}

// cidString is c's string form, "" for an undefined CID.
func cidString(c cid.Cid) string {
	if !c.Defined() {
		return ""
	}
	return c.String()
}

// filesEventWire converts the files service's event payloads.
func filesEventWire(data any) (any, bool) {
	switch e := data.(type) {
	case files.AddedEvent:
		return wire.Added{CID: cidString(e.CID), Size: e.Size, Blocks: e.Blocks}, true
	case files.FetchProgressEvent:
		return fetchProgressWire(e.CID, e.FetchProgress), true
	case files.FetchedEvent:
		return fetchedWire(e.Fetched), true
	case files.ProvidedEvent:
		return wire.ProvidedEvent{CID: cidString(e.CID)}, true
	}
	return nil, false
}
