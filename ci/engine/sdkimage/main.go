// Command sdkimage writes the engine's Go SDK runtime image (see
// internal/e2e/standin.GoSDK) into the engine's builtin OCI content store and
// prints its manifest digest, which the engine reads from
// DAGGER_GO_SDK_MANIFEST_DIGEST. Upstream engines ship this image inside
// theirs; an engine built from the Go module proxy has to be given one.
//
//	sdkimage -codegen BIN -content DIR   # DIR/blobs/sha256/…; prints sha256:…
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/e2e/standin"
)

func main() {
	codegen := flag.String("codegen", "", "Dagger codegen binary of the engine's release (required)")
	content := flag.String("content", "", "the engine's builtin content directory (required)")
	goroot := flag.String("goroot", runtime.GOROOT(), "Go toolchain to put in the image")
	flag.Parse()
	if *codegen == "" || *content == "" {
		fmt.Fprintln(os.Stderr, "sdkimage: -codegen and -content are required")
		os.Exit(2)
	}
	d, err := write(*goroot, *codegen, *content)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkimage:", err)
		os.Exit(1)
	}
	fmt.Println(d)
}

func write(goroot, codegen, content string) (v1.Hash, error) {
	img, err := standin.GoSDK(goroot, codegen)
	if err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return v1.Hash{}, err
		}
		if err := blob(content, d, l.Compressed); err != nil {
			return v1.Hash{}, err
		}
	}
	for _, raw := range []func() ([]byte, error){img.RawConfigFile, img.RawManifest} {
		b, err := raw()
		if err != nil {
			return v1.Hash{}, err
		}
		d, _, err := v1.SHA256(bytesReader(b))
		if err != nil {
			return v1.Hash{}, err
		}
		if err := blob(content, d, func() (io.ReadCloser, error) { return bytesReader(b), nil }); err != nil {
			return v1.Hash{}, err
		}
	}
	return img.Digest()
}

// blob writes one content-addressed blob unless it is there already.
func blob(content string, d v1.Hash, open func() (io.ReadCloser, error)) error {
	p := filepath.Join(content, "blobs", d.Algorithm, d.Hex)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.CreateTemp(filepath.Dir(p), ".blob-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

func bytesReader(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
