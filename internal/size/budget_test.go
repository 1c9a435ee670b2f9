package size

import "testing"

func TestFormatBudget(t *testing.T) {
	for n, want := range map[int64]string{
		DefaultMaxSize: "25MB",
		10 * MiB:       "10MiB",
		2 * GB:         "2GB",
		3 * GiB:        "3GiB",
		1500:           "1500B",
		1000:           "1kB",
		2048:           "2KiB",
		1:              "1B",
	} {
		got := FormatBudget(n)
		if got != want {
			t.Errorf("FormatBudget(%d) = %q, want %q", n, got, want)
		}
		if back, err := ParseBytes(got); err != nil || back != n {
			t.Errorf("ParseBytes(FormatBudget(%d)) = %d, %v: the default must read back as itself", n, back, err)
		}
	}
}
