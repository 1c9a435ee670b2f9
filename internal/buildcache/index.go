package buildcache

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"dagger/go-image/internal/cacheprog"
)

type ID = cacheprog.ID

// entry maps an action to its output. The MAC binds the three: whoever
// writes to the registry without the key can neither make one up nor
// point an action at another output.
type entry struct {
	Action ID
	Output ID
	Size   int64
	// Used is when a build last used the entry (Unix seconds). It orders
	// eviction and is not authenticated: forging it only changes what is
	// evicted first.
	Used int64
	MAC  []byte
}

// macDomain separates this MAC from any other use of the same key.
const macDomain = "go-image buildcache v1\x00"

func entryMAC(key []byte, action, output ID, size int64) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(macDomain))
	m.Write(action[:])
	m.Write(output[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(size))
	m.Write(n[:])
	return m.Sum(nil)
}

func newEntry(key []byte, action, output ID, size int64, used time.Time) entry {
	return entry{Action: action, Output: output, Size: size, Used: used.Unix(), MAC: entryMAC(key, action, output, size)}
}

func (e entry) valid(key []byte) bool {
	return e.Size >= 0 && e.Size <= MaxObjectSize && hmac.Equal(e.MAC, entryMAC(key, e.Action, e.Output, e.Size))
}

// indexVersion is the format of the index blob; another version is read as
// an empty index (a newer go-image wrote it) and overwritten.
const indexVersion = 1

// wireIndex is the index blob: JSON, hex IDs, so a human can read it with
// crane blob.
type wireIndex struct {
	Version int         `json:"version"`
	Entries []wireEntry `json:"entries"`
}

type wireEntry struct {
	Action string `json:"a"`
	Output string `json:"o"`
	Size   int64  `json:"s"`
	Used   int64  `json:"t"`
	MAC    string `json:"m"`
}

var errIndexVersion = errors.New("index of another format version")

// decodeIndex parses an index blob and keeps the entries whose MAC checks
// out; bad counts the others. A blob that is not an index at all is an
// error: the caller treats it as empty.
func decodeIndex(b []byte, key []byte) (entries []entry, bad int, err error) {
	if len(b) > MaxIndexSize {
		return nil, 0, fmt.Errorf("index of %d bytes, over the %d limit", len(b), MaxIndexSize)
	}
	var w wireIndex
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, 0, fmt.Errorf("index: %w", err)
	}
	if w.Version != indexVersion {
		return nil, 0, fmt.Errorf("%w %d (this go-image reads %d)", errIndexVersion, w.Version, indexVersion)
	}
	if len(w.Entries) > MaxEntries {
		return nil, 0, fmt.Errorf("index of %d entries, over the %d limit", len(w.Entries), MaxEntries)
	}
	for _, we := range w.Entries {
		e, ok := we.parse()
		if !ok || !e.valid(key) {
			bad++
			continue
		}
		entries = append(entries, e)
	}
	return entries, bad, nil
}

func (we wireEntry) parse() (entry, bool) {
	a, err1 := cacheprog.ParseID(we.Action)
	o, err2 := cacheprog.ParseID(we.Output)
	mac, err3 := hexBytes(we.MAC, sha256.Size)
	if err1 != nil || err2 != nil || err3 != nil {
		return entry{}, false
	}
	return entry{Action: a, Output: o, Size: we.Size, Used: we.Used, MAC: mac}, true
}

func hexBytes(s string, n int) ([]byte, error) {
	id, err := cacheprog.ParseID(s)
	if err != nil || n != len(id) {
		return nil, errors.New("bad hex")
	}
	return id[:], nil
}

func encodeIndex(entries []entry) ([]byte, error) {
	w := wireIndex{Version: indexVersion, Entries: make([]wireEntry, len(entries))}
	for i, e := range entries {
		w.Entries[i] = wireEntry{Action: e.Action.String(), Output: e.Output.String(), Size: e.Size, Used: e.Used, MAC: ID(e.MAC).String()}
	}
	return json.Marshal(w)
}

// merge combines indexes, later ones winning for the same action, and
// keeps the most recently used entries: at most MaxEntries, none unused
// for longer than MaxAge, and only those whose output keep says is in the
// registry.
func merge(now time.Time, keep func(entry) bool, indexes ...[]entry) []entry {
	by := map[ID]entry{}
	for _, idx := range indexes {
		for _, e := range idx {
			if old, ok := by[e.Action]; ok && old.Used > e.Used && old.Output == e.Output {
				continue
			}
			by[e.Action] = e
		}
	}
	oldest := now.Add(-MaxAge).Unix()
	out := make([]entry, 0, len(by))
	for _, e := range by {
		if e.Used >= oldest && keep(e) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Used != out[j].Used {
			return out[i].Used > out[j].Used
		}
		return string(out[i].Action[:]) < string(out[j].Action[:])
	})
	if len(out) > MaxEntries {
		out = out[:MaxEntries]
	}
	return out
}
