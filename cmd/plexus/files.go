package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
)

// Files: add, get, cat, ls, pin and the "files" group. Transfers can take
// long: they are bounded by --timeout only when it is given, and Ctrl-C
// stops them cleanly (the blocks fetched so far stay on the node, so get
// resumes).

// transferCtx is the context of a transfer: cancelled by Ctrl-C or SIGTERM,
// and bounded by --timeout only when the flag is given.
func transferCtx(cmd *cobra.Command, g *globals) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	if !cmd.Flags().Changed("timeout") {
		return ctx, stop
	}
	tctx, cancel := context.WithTimeout(ctx, g.timeout)
	return tctx, func() { cancel(); stop() }
}

// transferErr explains an interrupted or timed-out transfer.
func transferErr(ctx context.Context, g *globals, what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s: timed out after %s (raise --timeout, or leave it out for no limit): %w", what, g.timeout, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: interrupted", what)
	case errors.Is(err, client.ErrTimeout):
		return fmt.Errorf("%s: timed out after %s (raise --timeout, or leave it out for no limit): %w", what, g.timeout, err)
	}
	return err
}

func newAddCmd(g *globals) *cobra.Command {
	var opts client.AddOptions
	var quiet bool
	pin := true
	cmd := &cobra.Command{
		Use:   "add PATH...",
		Short: "Add files and directories (recursive; - for stdin) and print their CIDs",
		Long: `Add files and directories to the node as UnixFS DAGs, as "ipfs add --cid-version 1" does (the
same CIDs), pin them and announce them on the DHT. Directories are added recursively (files and
directories whose names start with "." are skipped unless --hidden); "-" reads stdin. Each line
printed is "added CID PATH"; -q prints only the CIDs.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range args {
				if p == "-" {
					continue
				}
				if _, err := os.Lstat(p); err != nil {
					return fmt.Errorf("add %s: %w", p, errors.Unwrap(err))
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := transferCtx(cmd, g)
			defer cancel()
			opts.NoPin = !pin
			var results []addedPath
			for _, p := range args {
				total := uint64(0)
				if p != "-" {
					if total, err = treeSize(p, opts.Hidden); err != nil {
						return err
					}
				}
				bar := newTransferBar(g, cmd.ErrOrStderr(), "add "+displayName(p), total)
				o := opts
				o.Sent = bar.set
				var a wire.Added
				if p == "-" {
					a, err = c.AddReader(ctx, os.Stdin, o)
				} else {
					a, err = c.AddPath(ctx, p, o)
				}
				bar.done()
				if err != nil {
					return transferErr(ctx, g, "add "+displayName(p), err)
				}
				results = append(results, addedPath{Path: p, Added: a})
				if !g.json {
					if quiet {
						fmt.Fprintln(cmd.OutOrStdout(), a.CID)
					} else {
						fmt.Fprintf(cmd.OutOrStdout(), "added %s %s (%s)\n", a.CID, displayName(p), ibytes(a.Size))
					}
				}
			}
			if g.json {
				return g.print(cmd.OutOrStdout(), results, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the CIDs")
	cmd.Flags().BoolVar(&opts.OnlyHash, "only-hash", false, "only compute the CIDs: store and announce nothing")
	cmd.Flags().BoolVar(&pin, "pin", true, "pin what is added (--pin=false: garbage collection may remove it)")
	cmd.Flags().BoolVar(&opts.Hidden, "hidden", false, "include files and directories whose names start with \".\"")
	return cmd
}

// addedPath is one line of "plexus add --json".
type addedPath struct {
	Path string `json:"path"`
	wire.Added
}

func displayName(p string) string {
	if p == "-" {
		return "stdin"
	}
	return p
}

// treeSize sums the sizes of the regular files under p, as add sends them.
func treeSize(p string, hidden bool) (uint64, error) {
	var total uint64
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("add %s: %w", q, errors.Unwrap(err))
		}
		if q != p && !hidden && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return fmt.Errorf("add %s: %w", q, err)
			}
			total += uint64(info.Size())
		}
		return nil
	})
	return total, err
}

func newGetFilesCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get CID",
		Short: "Fetch a file or directory and write it to disk (-o names it; default: the CID)",
		Long: `Fetch the file or directory CID from the providers found on the DHT (in parallel, every block
verified against its CID), then write it to the path -o names (default: the CID in the current
directory), as "ipfs get -o" does. Nothing is written until everything is fetched and the path
appears only when complete. Ctrl-C stops; the blocks fetched so far stay on the node, so running
the same command again resumes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			if output == "" {
				output = id
			}
			if _, err := os.Lstat(output); err == nil {
				return fmt.Errorf("get: %s already exists: remove it or choose another path with -o", output)
			}
			if st, err := os.Stat(filepath.Dir(output)); err != nil || !st.IsDir() {
				return fmt.Errorf("get: cannot write %s: its directory %s does not exist", output, filepath.Dir(output))
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := transferCtx(cmd, g)
			defer cancel()
			bar := newTransferBar(g, cmd.ErrOrStderr(), "get "+id, 0)
			var fetched wire.Fetched
			if bar != nil {
				fetched, err = c.FetchProgress(ctx, id, bar.fetch)
			} else {
				fetched, err = c.Fetch(ctx, id)
			}
			bar.done()
			// Ctrl-C while fetching or while writing: the blocks stay.
			getErr := func(err error) error {
				if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("get %s: interrupted; the blocks fetched so far stay on the node: run the same command again to resume", id)
				}
				return transferErr(ctx, g, "get "+id, err)
			}
			if err != nil {
				return getErr(err)
			}
			dl, err := c.GetFiles(ctx, id)
			if err != nil {
				return getErr(err)
			}
			defer dl.Close()
			var size uint64
			if dl.Dir {
				size, err = extractTar(dl, output)
			} else {
				size, err = writeFileAtomic(dl, output)
			}
			if err != nil {
				return getErr(err)
			}
			res := gotFile{CID: id, Path: output, Dir: dl.Dir, Size: size, Fetched: fetched}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				what := "file"
				if dl.Dir {
					what = "directory"
				}
				from := "already on this node"
				if fetched.Blocks > 0 {
					from = fmt.Sprintf("fetched %s in %s from %s in %s", ibytes(fetched.Bytes), plural(fetched.Blocks, "block"), plural(fetched.Peers, "peer"),
						msDuration(fetched.DurationMS).Round(time.Millisecond))
				}
				fmt.Fprintf(w, "saved %s %s to %s (%s; %s)\n", what, id, output, ibytes(size), from)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "path of the file or directory to write (default: the CID)")
	return cmd
}

// plural writes a count with its noun: "1 peer", "2 peers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// fileStat is the output of "plexus files stat".
type fileStat struct {
	wire.FileStat
	// Providers counts the providers found on the DHT (at most
	// maxStatProviders); absent with --providers=false or when the search
	// did not answer in time.
	Providers *int `json:"providers,omitempty"`
}

// How long and how far "plexus files stat" looks for providers.
const (
	statProvidersWait = 10 * time.Second
	maxStatProviders  = 20
)

// gotFile is the --json output of get.
type gotFile struct {
	CID     string       `json:"cid"`
	Path    string       `json:"path"`
	Dir     bool         `json:"dir"`
	Size    uint64       `json:"size"` // file bytes written
	Fetched wire.Fetched `json:"fetched"`
}

// writeFileAtomic writes r to a temporary file next to dst and renames it
// to dst once complete: an interrupted or failed write leaves no dst.
func writeFileAtomic(r io.Reader, dst string) (uint64, error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".partial-*")
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		return 0, fmt.Errorf("write %s: %w", dst, err)
	}
	return uint64(n), nil
}

// extractTar writes the directory archive of GET /v1/files/get (entries
// under one top directory) to a temporary directory next to dst and renames
// it to dst once complete. Entries that would land outside dst, or under a
// symbolic link of the archive, are refused.
func extractTar(r io.Reader, dst string) (uint64, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".partial-*")
	if err != nil {
		return 0, err
	}
	var total uint64
	err = func() error {
		tr := tar.NewReader(r)
		links := map[string]bool{}
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read the archive: %w", err)
			}
			name := path.Clean(hdr.Name)
			_, rel, _ := strings.Cut(name, "/")
			if rel == "" && !strings.Contains(name, "/") {
				rel = "." // the top directory itself
			}
			if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || rel == ".." || strings.HasPrefix(rel, "../") {
				return fmt.Errorf("archive entry %q is outside the directory", hdr.Name)
			}
			for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
				if links[dir] {
					return fmt.Errorf("archive entry %q is under the symbolic link %q", hdr.Name, dir)
				}
			}
			target := filepath.Join(tmp, filepath.FromSlash(rel))
			switch hdr.Typeflag {
			case tar.TypeDir:
				if err := os.MkdirAll(target, 0o755); err != nil {
					return err
				}
			case tar.TypeReg:
				f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil {
					return err
				}
				n, err := io.Copy(f, tr)
				total += uint64(n)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("write %s: %w", rel, err)
				}
			case tar.TypeSymlink:
				if err := os.Symlink(hdr.Linkname, target); err != nil {
					return err
				}
				links[rel] = true
			default:
				return fmt.Errorf("archive entry %q has an unsupported type %q", hdr.Name, hdr.Typeflag)
			}
		}
	}()
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return 0, fmt.Errorf("write %s: %w", dst, err)
	}
	return total, nil
}

func newCatCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cat CID",
		Short: "Write a file's bytes to stdout (fetching them as it reads)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := transferCtx(cmd, g)
			defer cancel()
			rc, err := c.Cat(ctx, strings.TrimSpace(args[0]))
			if err != nil {
				return transferErr(ctx, g, "cat "+args[0], err)
			}
			defer rc.Close()
			if _, err := io.Copy(cmd.OutOrStdout(), rc); err != nil {
				return transferErr(ctx, g, "cat "+args[0], fmt.Errorf("the daemon's answer was cut: %w", err))
			}
			return nil
		},
	}
}

func newLsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "ls CID",
		Short: "List a directory's entries (name, CID, size)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			es, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.FileEntry, error) {
				return c.Ls(ctx, strings.TrimSpace(args[0]))
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), es, func(w io.Writer) {
				rows := make([][]string, len(es))
				for i, e := range es {
					name := e.Name
					if e.Dir {
						name += "/"
					}
					rows[i] = []string{e.CID, strconv.FormatUint(e.Size, 10), name}
				}
				table(w, []string{"CID", "SIZE", "NAME"}, rows)
			})
		},
	}
}

func newPinCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin",
		Short: "Keep files and directories on this node (garbage collection never removes pinned blocks)",
	}
	add := &cobra.Command{
		Use:   "add CID...",
		Short: "Pin CIDs (fetching what is missing)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return pinEach(cmd, g, args, "pinned", func(ctx context.Context, c *client.Client, id string) (wire.Pin, error) { return c.Pin(ctx, id) })
		},
	}
	rm := &cobra.Command{
		Use:     "rm CID...",
		Aliases: []string{"remove"},
		Short:   "Unpin CIDs (plexus files gc then removes their blocks)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return pinEach(cmd, g, args, "unpinned", func(ctx context.Context, c *client.Client, id string) (wire.Pin, error) { return c.Unpin(ctx, id) })
		},
	}
	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the pinned CIDs",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.Pin, error) { return c.Pins(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ps, func(w io.Writer) {
				for _, p := range ps {
					since := ""
					if p.Since != nil {
						since = p.Since.Local().Format(time.DateTime)
					}
					fmt.Fprintf(w, "%s  %s\n", p.CID, since)
				}
			})
		},
	}
	cmd.AddCommand(add, rm, ls)
	return cmd
}

// pinEach pins or unpins each CID in turn: pinning fetches what is missing,
// so it runs like a transfer (no time limit unless --timeout).
func pinEach(cmd *cobra.Command, g *globals, ids []string, verb string, fn func(context.Context, *client.Client, string) (wire.Pin, error)) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx, cancel := transferCtx(cmd, g)
	defer cancel()
	var out []wire.Pin
	for _, id := range ids {
		p, err := fn(ctx, c, strings.TrimSpace(id))
		if err != nil {
			return transferErr(ctx, g, strings.TrimSuffix(verb, "ned")+" "+id, err)
		}
		out = append(out, p)
		if !g.json {
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", verb, p.CID)
		}
	}
	if g.json {
		return g.print(cmd.OutOrStdout(), out, nil)
	}
	return nil
}

func newFilesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "files",
		Short: "Inspect files and directories: stat, providers, garbage collection (see also add, get, cat, ls, pin)",
	}
	findProviders := true
	stat := &cobra.Command{
		Use:   "stat CID",
		Short: "Size, blocks, whether it is on this node and pinned, and how many providers the DHT knows",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			out, err := call(cmd, g, func(ctx context.Context, c *client.Client) (fileStat, error) {
				st, err := c.FileStat(ctx, id)
				out := fileStat{FileStat: st}
				if err != nil || !findProviders {
					return out, err
				}
				// At most statProvidersWait: the answer is a count, not a search.
				pctx, cancel := context.WithTimeout(ctx, statProvidersWait)
				defer cancel()
				if ps, err := c.FileProviders(pctx, id, maxStatProviders); err == nil {
					n := len(ps)
					out.Providers = &n
				}
				return out, nil
			})
			if err != nil {
				return err
			}
			st := out.FileStat
			return g.print(cmd.OutOrStdout(), out, func(w io.Writer) {
				kind := "file"
				if st.Dir {
					kind = "directory"
				}
				fmt.Fprintf(w, "cid:       %s\ntype:      %s\nsize:      %s (%d bytes)\n", st.CID, kind, ibytes(st.Size), st.Size)
				if st.Blocks > 0 {
					fmt.Fprintf(w, "blocks:    %d of %d on this node\n", st.LocalBlocks, st.Blocks)
				} else {
					fmt.Fprintf(w, "blocks:    %d on this node (the total is known once the whole DAG is here)\n", st.LocalBlocks)
				}
				fmt.Fprintf(w, "local:     %v\npinned:    %v\n", st.Local, st.Pinned)
				switch {
				case out.Providers != nil && *out.Providers >= maxStatProviders:
					fmt.Fprintf(w, "providers: %d or more on the DHT\n", *out.Providers)
				case out.Providers != nil:
					fmt.Fprintf(w, "providers: %d on the DHT\n", *out.Providers)
				case findProviders:
					fmt.Fprintf(w, "providers: not known (the DHT search did not answer within %s)\n", statProvidersWait)
				}
			})
		},
	}
	stat.Flags().BoolVar(&findProviders, "providers", true, "count the providers on the DHT (--providers=false: only what this node knows)")
	var count positiveInt = 20
	providers := &cobra.Command{
		Use:   "providers CID",
		Short: "Find the peers that provide CID on the DHT",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := call(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.Provider, error) {
				return c.FileProviders(ctx, strings.TrimSpace(args[0]), int(count))
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ps, func(w io.Writer) {
				if len(ps) == 0 {
					fmt.Fprintln(w, "no providers found")
				}
				for _, p := range ps {
					fmt.Fprintf(w, "%s %s\n", p.PeerID, strings.Join(p.Addrs, " "))
				}
			})
		},
	}
	providers.Flags().Var(&count, "count", "stop after this many providers (1 to 100)")
	gc := &cobra.Command{
		Use:   "gc",
		Short: "Remove the blocks no pin needs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := transferCtx(cmd, g)
			defer cancel()
			res, err := c.GC(ctx)
			if err != nil {
				return transferErr(ctx, g, "gc", err)
			}
			return g.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "removed %d blocks (%s)\n", res.Blocks, ibytes(res.Bytes))
			})
		},
	}
	cmd.AddCommand(stat, providers, gc)
	return cmd
}

// transferBar is a progress bar for add and get on a terminal: bytes, total
// and percentage when known, rate, time left and (get) peers serving. A nil
// *transferBar shows nothing (--json, or not a terminal).
type transferBar struct {
	line  *progressLine
	what  string
	start time.Time
	mu    sync.Mutex
	total uint64
	last  time.Time
}

func newTransferBar(g *globals, w io.Writer, what string, total uint64) *transferBar {
	line := newProgressLine(g, w)
	if line == nil {
		return nil
	}
	return &transferBar{line: line, what: what, start: time.Now(), total: total}
}

// set shows the bytes sent so far (add).
func (b *transferBar) set(n uint64) {
	if b == nil {
		return
	}
	b.show(n, b.total, -1, false)
}

// fetch shows a fetch's progress (get).
func (b *transferBar) fetch(p wire.FetchProgress) {
	if b == nil {
		return
	}
	b.show(p.Bytes, p.TotalBytes, p.Peers, true)
}

func (b *transferBar) show(n, total uint64, peers int, always bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if !always && now.Sub(b.last) < 100*time.Millisecond && (total == 0 || n < total) {
		return
	}
	b.last = now
	b.line.show("%s", barText(b.what, n, total, peers, now.Sub(b.start)))
}

func (b *transferBar) done() {
	if b == nil {
		return
	}
	b.line.clear()
}

// barText formats one progress line: "get bafy…: [=====>    ] 12.0 MiB of
// 100.0 MiB (12%), 40.0 MiB/s, 2s left, 3 peers". peers < 0 leaves them out.
func barText(what string, n, total uint64, peers int, elapsed time.Duration) string {
	var sb strings.Builder
	sb.WriteString(what + ": ")
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(n) / s
	}
	if total > 0 {
		frac := min(float64(n)/float64(total), 1)
		const width = 20
		filled := int(frac * width)
		sb.WriteString("[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "] ")
		fmt.Fprintf(&sb, "%s of %s (%.0f%%)", ibytes(n), ibytes(total), frac*100)
	} else {
		sb.WriteString(ibytes(n))
	}
	fmt.Fprintf(&sb, ", %s/s", ibytes(uint64(rate)))
	if total > n && rate > 0 {
		left := time.Duration(float64(total-n) / rate * float64(time.Second))
		fmt.Fprintf(&sb, ", %s left", left.Round(time.Second))
	}
	if peers >= 0 {
		sb.WriteString(", " + plural(peers, "peer"))
	}
	return sb.String()
}
