package release

import (
	"fmt"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/size"
	"dagger/go-image/internal/upx"
)

// GateOptions are the user's gate settings, as the CLI and the Dagger
// module take them.
type GateOptions struct {
	// MaxSize is the compressed size budget, e.g. "25MB"; "" is the size
	// gate's default.
	MaxSize string
	// UPX is the packed-binary policy: deny, warn or allow; "" is deny.
	UPX string
}

// Gates returns the gates a release runs, in order. It covers the gates that
// exist today (size, upx); when the standard gate list lands in
// internal/gates, this should return it so CLI and Dagger keep agreeing.
func Gates(o GateOptions) ([]gates.Gate, error) {
	var max int64
	if o.MaxSize != "" {
		n, err := size.ParseBytes(o.MaxSize)
		if err != nil {
			return nil, fmt.Errorf("max size: %w", err)
		}
		max = n
	}
	policy, err := upx.ParsePolicy(o.UPX)
	if err != nil {
		return nil, err
	}
	return []gates.Gate{size.Gate{Max: max}, upx.Gate{Policy: policy}}, nil
}
