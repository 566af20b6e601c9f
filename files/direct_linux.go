package files

import (
	"errors"
	"io"
	"os"
	"syscall"
)

const directOK = true

// writeDirect creates path (it must not exist) and writes data, aligned,
// with O_DIRECT: the bytes go to the device without a page cache copy.
func writeDirect(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_DIRECT, 0o600)
	if errors.Is(err, syscall.EINVAL) {
		return errDirectUnsupported
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if errors.Is(err, syscall.EINVAL) {
		f.Close()
		return errDirectUnsupported
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readDirect reads the file path into buf with O_DIRECT when its size is
// aligned and fits (ok false otherwise: the caller reads it another way).
func readDirect(path string, buf []byte) (n int, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECT, 0)
	if errors.Is(err, syscall.EINVAL) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	size := st.Size()
	if size == 0 || size%directAlign != 0 || size > int64(len(buf)) {
		return 0, false, nil
	}
	n, err = io.ReadFull(f, buf[:size])
	if errors.Is(err, syscall.EINVAL) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}
