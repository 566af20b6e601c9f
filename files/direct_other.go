//go:build !linux

package files

const directOK = false

func writeDirect(string, []byte) error { return errDirectUnsupported }

func readDirect(string, []byte) (int, bool, error) { return 0, false, nil }
