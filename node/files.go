package node

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/plexus-p2p/plexus/config"
	"github.com/plexus-p2p/plexus/files"
)

// startFiles opens the block store (Config.BlocksPath, by default "blocks"
// next to the datastore) and starts file sharing: bitswap, the block
// protocol between Plexus nodes, and provider records on the node's DHT.
func (n *Node) startFiles() error {
	c := n.cfg.Files
	dir := n.cfg.BlocksPath
	if dir == "" && n.cfg.DatastorePath != "" {
		dir = filepath.Join(filepath.Dir(n.cfg.DatastorePath), config.FilesBlocksDir)
	}
	svc, err := files.New(n.host, n.ds, n.routing,
		files.WithBlocksDir(dir),
		files.WithSync(c.Sync),
		files.WithLogger(n.cfg.Logger),
		files.WithPublisher(n.bus),
		files.WithReprovideInterval(time.Duration(c.ReprovideInterval)),
		files.WithFetchTimeout(time.Duration(c.FetchTimeout)),
	)
	if err != nil {
		return fmt.Errorf("files: %w", err)
	}
	n.files = svc
	n.addCloser(svc.Close)
	return svc.Start()
}

// Files returns the file sharing service: add, fetch, cat, get, ls, stat,
// pin and GC of content-addressed (IPFS UnixFS) files.
func (n *Node) Files() *files.Service { return n.files }
