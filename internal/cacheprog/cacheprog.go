// Package cacheprog speaks the go command's GOCACHEPROG protocol (Go 1.24+,
// cmd/go/internal/cacheprog): the go command starts the program named by
// GOCACHEPROG, writes JSON requests ("get", "put", "close") to its stdin and
// reads JSON responses from its stdout, in any order, matched by ID. A put
// carries its body on the next line as a base64 JSON string.
//
// The package only speaks the protocol; what is stored where is a Cache's
// business (internal/buildcache). Serve answers one go command on a pair of
// streams; Proxy relays one go command to a Serve running elsewhere (a
// unix socket), so the process that holds the registry credentials need not
// be the go command's child.
package cacheprog

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
)

// Cmd is a request's command.
type Cmd string

// The commands this package answers; every other one gets an error response.
const (
	CmdGet   Cmd = "get"
	CmdPut   Cmd = "put"
	CmdClose Cmd = "close"
)

// Request is one message from the go command (cmd/go/internal/cacheprog.Request
// without the body, which follows on its own line).
type Request struct {
	ID       int64
	Command  Cmd
	ActionID []byte `json:",omitempty"`
	OutputID []byte `json:",omitempty"`
	BodySize int64  `json:",omitempty"`
}

// Response is one message to the go command.
type Response struct {
	ID            int64
	Err           string `json:",omitempty"`
	KnownCommands []Cmd  `json:",omitempty"`
	Miss          bool   `json:",omitempty"`
	OutputID      []byte `json:",omitempty"`
	Size          int64  `json:",omitempty"`
	DiskPath      string `json:",omitempty"`
}

// ID is an action or output ID: a SHA-256. An output ID is the SHA-256 of
// the output's bytes (the go command computes it so before a put).
type ID [32]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads an ID from its hex form.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, errors.New("not a 64-digit hex SHA-256")
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, errors.New("not a 64-digit hex SHA-256")
	}
	return id, nil
}

func idOf(b []byte) (ID, bool) {
	var id ID
	if len(b) != len(id) {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

// Entry is a hit: the output's ID and size, and the file that holds its
// bytes, which must stay until the go command closes the cache.
type Entry struct {
	OutputID ID
	Size     int64
	DiskPath string
}

// Cache is what Serve asks. Get reports a miss as ok == false: a cache
// program has no business failing a build over a lookup. Put must consume
// body (exactly size bytes hashing to output, which the go command
// computed) and return the absolute path of a file holding them; its error
// fails the go command's action, so it is for the local disk failing.
type Cache interface {
	Get(ctx context.Context, action ID) (e Entry, ok bool)
	Put(ctx context.Context, action, output ID, size int64, body io.Reader) (diskPath string, err error)
}
