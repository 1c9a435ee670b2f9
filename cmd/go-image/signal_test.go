package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"dagger/go-image/internal/hostile"
)

// TestSignalHelper is the go-image command itself when run by
// TestSignalEndsALongRead: main, with the arguments it is given.
func TestSignalHelper(t *testing.T) {
	args := os.Getenv("GOIMAGE_SIGNAL_HELPER")
	if args == "" {
		t.Skip("run by TestSignalEndsALongRead")
	}
	os.Args = append([]string{"go-image"}, strings.Split(args, "\n")...)
	main()
}

// TestSignalEndsALongRead: SIGTERM during a long read of an image (a
// 4 GiB layer, stored as a hole) ends the command within a second or two,
// with the cause, instead of running to the end of the read.
func TestSignalEndsALongRead(t *testing.T) {
	p := slowTarball(t, 4<<30)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSignalHelper$")
	cmd.Env = append(os.Environ(), "GOIMAGE_SIGNAL_HELPER="+strings.Join([]string{"check", "--image", p}, "\n"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("exit: %v, want status 1\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "context canceled") {
			t.Errorf("output does not give the cause:\n%s", out.String())
		}
		t.Logf("ended %s after SIGTERM:\n%s", time.Since(sent), out.String())
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 5 s after SIGTERM\n%s", out.String())
	}
}

// slowTarball writes an image tarball whose one layer is size bytes of
// zeros, stored as a hole: a full read of it takes seconds, the file
// takes no disk. Its digests are made up: the read would fail at its end.
func slowTarball(t *testing.T, size int64) string {
	t.Helper()
	layer := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("1", 64) + `"]}}`)
	cfgDesc := v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(cfg)), Digest: digest(cfg)}
	manifest, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfgDesc,
		Layers: []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Size: size, Digest: layer}}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "slow.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The layer's header, then a hole of its size (a multiple of 512).
	var hdr bytes.Buffer
	if err := tar.NewWriter(&hdr).WriteHeader(&tar.Header{Name: hostile.BlobPath(layer), Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(hdr.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(size, 1); err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, m := range []hostile.Member{
		{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{Name: hostile.BlobPath(cfgDesc.Digest), Data: cfg},
		{Name: hostile.BlobPath(digest(manifest)), Data: manifest},
		{Name: "index.json", Data: hostile.Index(types.OCIManifestSchema1, manifest)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: m.Name, Mode: 0o644, Size: int64(len(m.Data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func digest(b []byte) v1.Hash {
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		panic(err)
	}
	return h
}
