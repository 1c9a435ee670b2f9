package size

import "strconv"

// FormatBudget writes a byte count as ParseBytes reads it back, exactly:
// in the largest unit that divides it, decimal first (25000000 → "25MB",
// 10485760 → "10MiB", 1500 → "1500B"). Defaults are shown this way, so
// DefaultMaxSize is the one statement of the default budget.
func FormatBudget(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"GB", GB}, {"GiB", GiB}, {"MB", MB}, {"MiB", MiB}, {"kB", KB}, {"KiB", KiB}} {
		if n > 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
