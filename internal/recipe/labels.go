package recipe

import (
	"fmt"
	"strings"
)

// ParseLabels reads extra OCI labels given as key=value (--label, the
// labels argument); a key given twice keeps its last value, as docker build
// --label does.
func ParseLabels(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	labels := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want key=value, e.g. org.opencontainers.image.vendor=acme", kv)
		}
		labels[k] = v
	}
	return labels, nil
}
