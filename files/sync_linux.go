package files

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncDir flushes the filesystem that holds dir (syncfs(2)): one call for
// every block written since the last one.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
