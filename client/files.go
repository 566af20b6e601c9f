package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/plexus-p2p/plexus/api/wire"
)

// AddOptions configure an upload.
type AddOptions struct {
	// OnlyHash computes the CID and stores nothing.
	OnlyHash bool
	// NoPin adds without pinning (the daemon pins by default); ignored with
	// OnlyHash, which pins nothing.
	NoPin bool
	// Hidden includes files and directories whose names start with "." in
	// a directory upload (skipped by default, as "ipfs add -r" does).
	Hidden bool
	// Sent, when not nil, is called with the bytes of file content sent so
	// far, as the upload is written (from the uploading goroutine).
	Sent func(bytes uint64)
}

func (o AddOptions) query() url.Values {
	q := url.Values{}
	if o.OnlyHash {
		q.Set("only_hash", "true")
	} else if o.NoPin {
		q.Set("pin", "false")
	}
	return q
}

// AddReader adds the bytes of r as one file, streaming them: nothing is
// held in memory.
func (c *Client) AddReader(ctx context.Context, r io.Reader, opts AddOptions) (wire.Added, error) {
	var v wire.Added
	if add := opts.counter(); add != nil {
		r = &countingReader{r: r, add: add}
	}
	resp, err := c.sendBody(ctx, "POST", "/v1/files/add?"+opts.query().Encode(), io.NopCloser(r), "application/octet-stream", "")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	return v, decodeAnswer(resp.Body, "POST /v1/files/add", &v)
}

// AddPath adds the file or the directory tree at p (directories recursive,
// symbolic links as links), streaming the files as a multipart upload.
// The CID of a directory does not depend on its own name.
func (c *Client) AddPath(ctx context.Context, p string, opts AddOptions) (wire.Added, error) {
	var v wire.Added
	st, err := os.Lstat(p)
	if err != nil {
		return v, fmt.Errorf("add %s: %w", p, err)
	}
	if !st.IsDir() && st.Mode()&fs.ModeSymlink == 0 {
		f, err := os.Open(p)
		if err != nil {
			return v, fmt.Errorf("add %s: %w", p, err)
		}
		defer f.Close()
		if !st.Mode().IsRegular() {
			return v, fmt.Errorf("add %s: not a regular file, directory or symbolic link", p)
		}
		return c.AddReader(ctx, f, opts)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	var walkErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		walkErr = writeTree(mw, p, opts)
		if walkErr == nil {
			walkErr = mw.Close()
		}
		pw.CloseWithError(walkErr) // nil: io.EOF for the reader
	})
	resp, err := c.sendBody(ctx, "POST", "/v1/files/add?"+opts.query().Encode(), pr, mw.FormDataContentType(), "")
	pr.CloseWithError(errors.New("upload ended")) // stops the walk if the request ended early
	wg.Wait()
	if walkErr != nil && !errors.Is(walkErr, io.ErrClosedPipe) && (err != nil || resp == nil) {
		if resp != nil {
			resp.Body.Close()
		}
		return v, walkErr
	}
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	return v, decodeAnswer(resp.Body, "POST /v1/files/add", &v)
}

// writeTree writes the tree at root as multipart parts named by their paths
// under the root's base name, as boxo's multipart reader expects.
func writeTree(mw *multipart.Writer, root string, opts AddOptions) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	base := filepath.Base(abs)
	if base == string(filepath.Separator) || base == "." {
		base = "root"
	}
	add := opts.counter()
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("add %s: %w", p, err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := base
		if rel != "." {
			if !opts.Hidden && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			name = path.Join(base, filepath.ToSlash(rel))
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": url.QueryEscape(name)}))
		switch {
		case d.IsDir():
			h.Set("Content-Type", "application/x-directory")
			_, err := mw.CreatePart(h)
			return err
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("add %s: %w", p, err)
			}
			h.Set("Content-Type", "application/symlink")
			w, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			_, err = io.WriteString(w, target)
			return err
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("add %s: %w", p, err)
			}
			defer f.Close()
			h.Set("Content-Type", "application/octet-stream")
			w, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			var r io.Reader = f
			if add != nil {
				r = &countingReader{r: f, add: add}
			}
			if _, err := io.Copy(w, r); err != nil {
				if errors.Is(err, io.ErrClosedPipe) {
					return err
				}
				return fmt.Errorf("add %s: %w", p, err)
			}
			return nil
		default:
			return fmt.Errorf("add %s: not a regular file, directory or symbolic link", p)
		}
	})
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r   io.Reader
	add func(n uint64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.add(uint64(n))
	}
	return n, err
}

// counter returns a function that adds to the bytes sent and reports the
// total to Sent, or nil without Sent.
func (o AddOptions) counter() func(uint64) {
	if o.Sent == nil {
		return nil
	}
	var total uint64
	return func(n uint64) {
		total += n
		o.Sent(total)
	}
}

func decodeAnswer(r io.Reader, what string, out any) error {
	if err := json.NewDecoder(r).Decode(out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", what, err)
	}
	return nil
}

// Cat streams the bytes of the file cid. Close the reader when done; a
// read error means the answer was cut (it never ends early without one).
func (c *Client) Cat(ctx context.Context, cid string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, "GET", "/v1/files/cat?cid="+url.QueryEscape(cid), nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Download is the answer of GetFiles: a file's bytes, or a directory as a
// tar archive whose entries are under a directory named by the CID.
type Download struct {
	io.ReadCloser
	Dir bool // the body is a tar archive of a directory
}

// GetFiles streams the file or directory cid.
func (c *Client) GetFiles(ctx context.Context, cid string) (*Download, error) {
	resp, err := c.send(ctx, "GET", "/v1/files/get?cid="+url.QueryEscape(cid), nil)
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return &Download{ReadCloser: resp.Body, Dir: mt == "application/x-tar"}, nil
}

// Fetch makes the DAG under cid local on the daemon (blocks it has are not
// fetched again, so an interrupted fetch resumes).
func (c *Client) Fetch(ctx context.Context, cid string) (wire.Fetched, error) {
	var v wire.Fetched
	return v, c.Do(ctx, "POST", "/v1/files/fetch", wire.CIDRequest{CID: cid}, &v)
}

// FetchProgress is Fetch reporting its progress (a few times a second).
func (c *Client) FetchProgress(ctx context.Context, cid string, progress func(wire.FetchProgress)) (wire.Fetched, error) {
	var v wire.Fetched
	return v, c.doProgress(ctx, "POST", "/v1/files/fetch", wire.CIDRequest{CID: cid}, &v, func(data []byte) {
		var p wire.FetchProgress
		if json.Unmarshal(data, &p) == nil {
			progress(p)
		}
	})
}

// Ls lists a directory's entries (a file: the file itself).
func (c *Client) Ls(ctx context.Context, cid string) ([]wire.FileEntry, error) {
	var v []wire.FileEntry
	return v, c.Do(ctx, "GET", "/v1/files/ls?cid="+url.QueryEscape(cid), nil, &v)
}

// FileStat describes a file or directory: size, blocks, local, pinned.
func (c *Client) FileStat(ctx context.Context, cid string) (wire.FileStat, error) {
	var v wire.FileStat
	return v, c.Do(ctx, "GET", "/v1/files/stat?cid="+url.QueryEscape(cid), nil, &v)
}

// FileProviders finds up to count peers providing cid (0: the daemon's default).
func (c *Client) FileProviders(ctx context.Context, cid string, count int) ([]wire.Provider, error) {
	q := url.Values{"cid": {cid}}
	if count > 0 {
		q.Set("count", fmt.Sprint(count))
	}
	var v []wire.Provider
	return v, c.Do(ctx, "GET", "/v1/files/providers?"+q.Encode(), nil, &v)
}

// Pin pins cid recursively, fetching what is missing.
func (c *Client) Pin(ctx context.Context, cid string) (wire.Pin, error) {
	var v wire.Pin
	return v, c.Do(ctx, "POST", "/v1/files/pin", wire.CIDRequest{CID: cid}, &v)
}

// Unpin removes the pin of cid (ErrNotFound when it was not pinned).
func (c *Client) Unpin(ctx context.Context, cid string) (wire.Pin, error) {
	var v wire.Pin
	return v, c.Do(ctx, "POST", "/v1/files/unpin", wire.CIDRequest{CID: cid}, &v)
}

// Pins lists the pinned roots.
func (c *Client) Pins(ctx context.Context) ([]wire.Pin, error) {
	var v []wire.Pin
	return v, c.Do(ctx, "GET", "/v1/files/pins", nil, &v)
}

// GC removes the blocks no pin needs.
func (c *Client) GC(ctx context.Context) (wire.GCResult, error) {
	var v wire.GCResult
	return v, c.Do(ctx, "POST", "/v1/files/gc", nil, &v)
}
