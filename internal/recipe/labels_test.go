package recipe

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseLabelsLastKeyWins: a key given twice keeps its last value, an
// empty value is a value, and a value may hold "=".
func TestParseLabelsLastKeyWins(t *testing.T) {
	got, err := ParseLabels([]string{"team=payments", "empty=", "url=https://x.example/?a=b", "team=billing"})
	want := map[string]string{"team": "billing", "empty": "", "url": "https://x.example/?a=b"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLabels = %v, %v; want %v", got, err, want)
	}
	if got, err := ParseLabels(nil); got != nil || err != nil {
		t.Errorf("no labels = %v, %v; want nil", got, err)
	}
	for _, bad := range []string{"team", "=payments", ""} {
		if _, err := ParseLabels([]string{bad}); err == nil || !strings.Contains(err.Error(), "want key=value") {
			t.Errorf("ParseLabels(%q) = %v, want a key=value error", bad, err)
		}
	}
}
