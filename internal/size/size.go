// Package size is the size gate: the image's size as a registry stores it
// (compressed layers + config + manifest) against a budget, with a per-layer
// breakdown and the largest files so a failure says what to cut.
package size

import (
	"archive/tar"
	"context"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/report"
)

// Byte units: decimal (kB, MB, GB) as registries and `docker images` count,
// and binary (KiB, MiB, GiB).
const (
	KB  int64 = 1000
	MB        = 1000 * KB
	GB        = 1000 * MB
	KiB int64 = 1024
	MiB       = 1024 * KiB
	GiB       = 1024 * MiB
)

// DefaultMaxSize is the default compressed budget: 25 MB. A static Go
// service on scratch is typically 5–15 MB; more usually means a base image
// or build leftovers that should not ship.
const DefaultMaxSize = 25 * MB

// TopFiles is how many of the largest files a result lists.
const TopFiles = 10

// ID is the check's stable ID.
const ID = "size/compressed"

var units = map[string]int64{
	"b": 1, "": 1,
	"kb": KB, "mb": MB, "gb": GB,
	"kib": KiB, "mib": MiB, "gib": GiB,
}

// ParseBytes parses a size such as "25MB", "25 MB", "1.5GiB", "300kB" or
// "1048576" (bytes). Decimal units are powers of 1000, *iB units powers of
// 1024; case is ignored. Single letters (M, G) are rejected: "25M" could be
// read as MB or MiB, and the budget must mean one thing.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := units[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("size %q: want a number and a unit, e.g. 25MB, 500kB, 1.5GiB (units: B, kB, MB, GB, KiB, MiB, GiB)", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q: want a positive number and a unit, e.g. 25MB", s)
	}
	return int64(math.Round(f * float64(mult))), nil
}

// Format renders n in decimal units with one decimal: "12.3 MB".
func Format(n int64) string {
	switch {
	case n >= GB:
		return fmt.Sprintf("%.1f GB", float64(n)/float64(GB))
	case n >= MB:
		return fmt.Sprintf("%.1f MB", float64(n)/float64(MB))
	case n >= KB:
		return fmt.Sprintf("%.1f kB", float64(n)/float64(KB))
	}
	return fmt.Sprintf("%d B", n)
}

// Gate checks the compressed size against Max.
type Gate struct {
	// Max is the budget in bytes for the compressed size; 0 means DefaultMaxSize.
	Max int64
}

// Name is "size".
func (Gate) Name() string { return "size" }

// Layer is one layer's share of the image.
type Layer struct {
	Digest       v1.Hash
	Compressed   int64
	Uncompressed int64
	CreatedBy    string
}

// File is one large file entry of a layer.
type File struct {
	Path  string
	Size  int64
	Layer int // index into the layers
}

// Sizes is what the gate measured.
type Sizes struct {
	Compressed   int64 // layers (compressed) + config + manifest
	Uncompressed int64 // layers uncompressed
	Config       int64
	Manifest     int64
	Layers       []Layer
	Largest      []File // largest first, at most TopFiles
}

// Measure reads every layer once, through imagefs's layer reader: the
// compressed blob is streamed, checked against its digest and declared
// size, and decompressed to count it and list its largest files, never
// holding more than a tar header in memory. Every size is measured, none
// is taken from the manifest: a layer declared smaller than it is fails
// the read, never the budget. Files are listed per layer, not from the
// flattened filesystem: a file deleted by a later layer is still stored
// and still costs its bytes.
func Measure(ctx context.Context, img v1.Image) (Sizes, error) {
	p := &imagefs.Pass{}
	m := plan(p)
	r, err := p.Run(ctx, img)
	if err != nil {
		return Sizes{}, err
	}
	return m(img, r)
}

// plan asks p for the headers of every layer, and returns what makes the
// sizes of img once p has run (a shared pass: Plan).
func plan(p *imagefs.Pass) func(img v1.Image, r *imagefs.Result) (Sizes, error) {
	var largest [][]File
	p.Headers(func(i int, h *tar.Header) {
		for len(largest) <= i {
			largest = append(largest, nil)
		}
		if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA {
			largest[i] = top(largest[i], File{Path: path.Clean("/" + h.Name), Size: h.Size, Layer: i})
		}
	})
	return func(img v1.Image, r *imagefs.Result) (Sizes, error) {
		var m Sizes
		raw, err := img.RawManifest()
		if err != nil {
			return m, fmt.Errorf("read manifest: %w", err)
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			return m, fmt.Errorf("read config: %w", err)
		}
		m.Manifest, m.Config = int64(len(raw)), int64(len(cfg))
		m.Compressed = m.Manifest + m.Config
		layers, err := img.Layers()
		if err != nil {
			return m, fmt.Errorf("read layers: %w", err)
		}
		if len(layers) != len(r.Layers) {
			return m, fmt.Errorf("the image has %d layers, %d were read", len(layers), len(r.Layers))
		}
		createdBy := layerHistory(img, len(layers))
		for i, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return m, fmt.Errorf("layer %d: %w", i+1, err)
			}
			st := r.Layers[i]
			// The uncompressed size is the whole stream, padding and end
			// marker included, as `docker image inspect` has it.
			m.Layers = append(m.Layers, Layer{Digest: d, Compressed: st.Compressed, Uncompressed: st.Uncompressed, CreatedBy: createdBy[i]})
			m.Compressed += st.Compressed
			m.Uncompressed += st.Uncompressed
			if i < len(largest) {
				for _, f := range largest[i] {
					m.Largest = top(m.Largest, f)
				}
			}
		}
		return m, nil
	}
}

// top inserts f into the largest-first list, keeping at most TopFiles.
func top(list []File, f File) []File {
	if len(list) == TopFiles && f.Size <= list[len(list)-1].Size {
		return list
	}
	i := sort.Search(len(list), func(i int) bool { return list[i].Size < f.Size })
	list = append(list, File{})
	copy(list[i+1:], list[i:])
	list[i] = f
	if len(list) > TopFiles {
		list = list[:TopFiles]
	}
	return list
}

// layerHistory maps each layer to its history's created_by; history entries
// marked empty_layer have no layer. "" when the history does not line up.
func layerHistory(img v1.Image, n int) []string {
	out := make([]string, n)
	cf, err := img.ConfigFile()
	if err != nil {
		return out
	}
	var nonEmpty []string
	for _, h := range cf.History {
		if !h.EmptyLayer {
			nonEmpty = append(nonEmpty, h.CreatedBy)
		}
	}
	if len(nonEmpty) != n {
		return out
	}
	return nonEmpty
}

// Check measures img and compares the compressed size with the budget.
func (g Gate) Check(ctx context.Context, img v1.Image) ([]report.Result, error) {
	return gates.CheckAlone(ctx, img, g)
}

// Plan implements gates.PassGate: the size gate reads every layer's blob
// and headers in the pass it shares with the upx and harden gates.
func (g Gate) Plan(_ context.Context, img v1.Image, p *imagefs.Pass) (func(context.Context, *imagefs.Result) ([]report.Result, error), error) {
	measured := plan(p)
	return func(_ context.Context, r *imagefs.Result) ([]report.Result, error) {
		m, err := measured(img, r)
		if err != nil {
			return nil, err
		}
		return g.judge(m), nil
	}, nil
}

// judge compares the measured compressed size with the budget.
func (g Gate) judge(m Sizes) []report.Result {
	max := g.Max
	if max <= 0 {
		max = DefaultMaxSize
	}
	res := report.Result{
		Gate:    "size",
		ID:      ID,
		Status:  report.Pass,
		Message: fmt.Sprintf("%s compressed (%s uncompressed), within the %s budget", Format(m.Compressed), Format(m.Uncompressed), Format(max)),
		Details: details(m),
		Metrics: map[string]float64{
			"compressed_bytes":   float64(m.Compressed),
			"uncompressed_bytes": float64(m.Uncompressed),
			"config_bytes":       float64(m.Config),
			"manifest_bytes":     float64(m.Manifest),
			"max_bytes":          float64(max),
			"layers":             float64(len(m.Layers)),
		},
	}
	if m.Compressed > max {
		res.Status = report.Fail
		fix := "remove the largest files below"
		if len(m.Largest) > 0 {
			fix = fmt.Sprintf("remove what you do not need (largest: %s, %s)", m.Largest[0].Path, Format(m.Largest[0].Size))
		}
		if len(m.Layers) > 1 {
			// go-image adds one layer; more come from the base image.
			fix += ", use a smaller base (scratch)"
		}
		res.Message = fmt.Sprintf("%s compressed is over the %s budget by %s: %s, or raise --max-size",
			Format(m.Compressed), Format(max), Format(m.Compressed-max), fix)
	}
	return []report.Result{res}
}

func details(m Sizes) []string {
	out := []string{fmt.Sprintf("layers (%d): compressed / uncompressed / created by", len(m.Layers))}
	for _, l := range m.Layers {
		by := l.CreatedBy
		if by == "" {
			by = "(no history)"
		}
		if len(by) > 100 {
			by = by[:97] + "..."
		}
		out = append(out, fmt.Sprintf("  %s  %9s / %9s  %s", short(l.Digest), Format(l.Compressed), Format(l.Uncompressed), by))
	}
	out = append(out, fmt.Sprintf("config %s, manifest %s", Format(m.Config), Format(m.Manifest)))
	if len(m.Largest) > 0 {
		out = append(out, fmt.Sprintf("largest files (top %d, uncompressed):", TopFiles))
		for _, f := range m.Largest {
			out = append(out, fmt.Sprintf("  %9s  %s  (layer %s)", Format(f.Size), f.Path, short(m.Layers[f.Layer].Digest)))
		}
	}
	return out
}

func short(h v1.Hash) string {
	hex := h.Hex
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return h.Algorithm + ":" + hex
}
