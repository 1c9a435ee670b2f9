//go:build unix

package lint

import (
	"os"
	"syscall"
)

// openNoFollow opens a file for reading without following a symbolic link
// in its last element and without blocking on a FIFO swapped in after the
// walk looked at it.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
