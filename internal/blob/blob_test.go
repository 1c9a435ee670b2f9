package blob_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/blob"
)

func digest(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

func TestVerify(t *testing.T) {
	good := []byte("the layer as built")
	other := []byte("the layer swapped!")
	tests := []struct {
		name    string
		content []byte
		size    int64
		want    error
	}{
		{"honest", good, int64(len(good)), nil},
		{"honest, size unknown", good, -1, nil},
		{"same size, other bytes", other, int64(len(good)), blob.ErrDigest},
		{"declared smaller", good, 1, blob.ErrSize},
		{"declared larger", good, 1000, blob.ErrSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := blob.Verify(bytes.NewReader(tt.content), digest(good), tt.size, "layer 1")
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, v)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.size >= 0 && n > tt.size+1 {
				t.Errorf("read %d bytes of a blob declared %d", n, tt.size)
			}
			if err := blob.Check(tt.content, digest(good), tt.size, "layer 1"); !errors.Is(err, tt.want) {
				t.Errorf("Check: err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyStopsPastTheSize: a blob declared 1 byte is not read on to its
// end (5 MB in issue 14's case): the read fails one byte past the size.
func TestVerifyStopsPastTheSize(t *testing.T) {
	src := &counting{r: bytes.NewReader(make([]byte, 5_000_000))}
	v, err := blob.Verify(src, digest(nil), 1, "layer")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, v); !errors.Is(err, blob.ErrSize) {
		t.Fatalf("err = %v", err)
	}
	if src.n > 2 {
		t.Errorf("read %d bytes", src.n)
	}
}

type counting struct {
	r io.Reader
	n int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestOnlySHA256(t *testing.T) {
	if _, err := blob.Verify(bytes.NewReader(nil), v1.Hash{Algorithm: "md5", Hex: "00"}, 0, "x"); err == nil {
		t.Fatal("an md5 digest was accepted")
	}
}

func ExampleMismatchError() {
	err := blob.Check([]byte("12345"), digest([]byte("12345")), 1, "layer 1 (sha256:ab18…)")
	fmt.Println(err)
	// Output:
	// layer 1 (sha256:ab18…): the content's size is 5 bytes, the image says 1 byte: the image is corrupt or was altered after it was built; rebuild or re-export it
}
