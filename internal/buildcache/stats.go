package buildcache

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

type counters struct {
	gets, localHits, remoteHits, misses, puts atomic.Int64
	corrupt, badEntries                       atomic.Int64
	downloads, downloadBytes                  atomic.Int64
	uploads, uploadBytes                      atomic.Int64
	indexEntries                              atomic.Int64
	indexWritten                              atomic.Bool
	flush                                     atomic.Int64
}

// Stats count what a Cache did; Close logs them as one line.
type Stats struct {
	// Ref is the registry reference, "" for a local-only cache.
	Ref string
	// Gets are the go command's lookups: LocalHits + RemoteHits + Misses.
	Gets, LocalHits, RemoteHits, Misses int64
	// Puts are the outputs the go command stored.
	Puts int64
	// Corrupt counts objects that failed verification (a miss each);
	// BadEntries index entries whose MAC did not check out.
	Corrupt, BadEntries int64
	// Downloads and Uploads are objects moved, of DownloadBytes and
	// UploadBytes.
	Downloads, DownloadBytes, Uploads, UploadBytes int64
	// IndexEntries is the size of the index written (IndexWritten), or
	// read when nothing needed writing.
	IndexEntries int64
	IndexWritten bool
	// Flush is how long Close waited for the uploads and the index write.
	Flush time.Duration
}

// Stats returns the counts so far.
func (c *Cache) Stats() Stats {
	s := Stats{
		Gets: c.stats.gets.Load(), LocalHits: c.stats.localHits.Load(), RemoteHits: c.stats.remoteHits.Load(),
		Misses: c.stats.misses.Load(), Puts: c.stats.puts.Load(),
		Corrupt: c.stats.corrupt.Load(), BadEntries: c.stats.badEntries.Load(),
		Downloads: c.stats.downloads.Load(), DownloadBytes: c.stats.downloadBytes.Load(),
		Uploads: c.stats.uploads.Load(), UploadBytes: c.stats.uploadBytes.Load(),
		IndexEntries: c.stats.indexEntries.Load(), IndexWritten: c.stats.indexWritten.Load(),
		Flush: time.Duration(c.stats.flush.Load()),
	}
	if c.remote != nil {
		s.Ref = c.remote.tag.String()
	}
	return s
}

// String is the summary line.
func (s Stats) String() string {
	where := "build cache (local only)"
	if s.Ref != "" {
		where = "build cache " + s.Ref
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d lookups: %d local hits, %d remote hits, %d misses; %d stored", where, s.Gets, s.LocalHits, s.RemoteHits, s.Misses, s.Puts)
	if s.Ref != "" {
		fmt.Fprintf(&b, "; %d downloaded (%s), %d uploaded (%s)", s.Downloads, bytesString(s.DownloadBytes), s.Uploads, bytesString(s.UploadBytes))
		if s.IndexWritten {
			fmt.Fprintf(&b, "; index of %d entries written", s.IndexEntries)
		}
		fmt.Fprintf(&b, "; flushed in %s", s.Flush.Round(time.Millisecond))
	}
	if s.Corrupt > 0 || s.BadEntries > 0 {
		fmt.Fprintf(&b, "; %d objects failed verification and %d index entries their MAC (treated as misses)", s.Corrupt, s.BadEntries)
	}
	return b.String()
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
