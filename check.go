package main

import (
	"context"
	"fmt"
	"strings"

	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/policy"
)

// Check builds the image and runs go-image's gates on it, in the same order
// and with the same options as `go-image check` (internal/policy): size,
// upx, then the hardening checks. It returns the report, and fails when a
// check fails unless noFail is set.
func (m *GoImage) Check(
	ctx context.Context,
	// Compressed size budget (what a registry stores): B, kB, MB, GB (decimal) or KiB, MiB, GiB.
	// +optional
	// +default="25MB"
	maxSize string,
	// UPX-packed binaries: deny (fail), warn (pass with a warning) or allow.
	// +optional
	// +default="deny"
	upx string,
	// Skip a hardening check with a reason, id=reason, e.g. "harden/no-setuid=base ships ping".
	// +optional
	skip []string,
	// Report format: text, json or markdown.
	// +optional
	// +default="text"
	format string,
	// Return the report without failing when a check fails.
	// +optional
	noFail bool,
) (string, error) {
	switch format {
	case "", "text", "json", "markdown", "md":
	default:
		return "", fmt.Errorf("format %q: use text, json or markdown", format)
	}
	// Parse before building: a typo should not cost a compile.
	opts, err := policy.Parse(maxSize, upx, skip)
	if err != nil {
		return "", err
	}
	ctr, err := m.Build(ctx)
	if err != nil {
		return "", err
	}
	img, err := image(ctx, ctr)
	if err != nil {
		return "", err
	}
	r := gates.Run(ctx, img, policy.Standard(opts)...)
	var b strings.Builder
	if err := r.Write(&b, format); err != nil {
		return "", err
	}
	if err := r.Err(); err != nil && !noFail {
		return "", fmt.Errorf("%s\n%w", b.String(), err)
	}
	return b.String(), nil
}
