//go:build unix && !linux

package files

import "syscall"

// syncDir flushes the filesystem buffers (sync(2)) where syncfs is missing.
func syncDir(string) error {
	syscall.Sync()
	return nil
}
