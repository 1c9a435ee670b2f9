//go:build !unix

package lint

import "os"

// openNoFollow opens a file for reading; the walk already skipped links.
func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
