package buildcache

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func sum(s string) ID { return ID(sha256.Sum256([]byte(s))) }

func TestDecodeIndex(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	good := newEntry(testKey, sum("a"), sum("o"), 10, now)
	other := newEntry(testKey, sum("b"), sum("p"), 20, now)
	encode := func(es ...entry) []byte {
		b, err := encodeIndex(es)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// tamper returns the index of es with one wire field changed after
	// the MAC was computed.
	tamper := func(e entry, edit func(*wireEntry)) []byte {
		var w wireIndex
		if err := json.Unmarshal(encode(e), &w); err != nil {
			t.Fatal(err)
		}
		edit(&w.Entries[0])
		b, _ := json.Marshal(w)
		return b
	}
	tests := []struct {
		name    string
		index   []byte
		key     []byte
		want    int // entries kept
		bad     int
		wantErr string
	}{
		{"entries under the key are kept", encode(good, other), testKey, 2, 0, ""},
		{"another key: every entry dropped", encode(good, other), []byte("another key of 16+ bytes"), 0, 2, ""},
		{"an action pointed at another output", tamper(good, func(w *wireEntry) { w.Output = sum("p").String() }), testKey, 0, 1, ""},
		{"another action given this output", tamper(good, func(w *wireEntry) { w.Action = sum("b").String() }), testKey, 0, 1, ""},
		{"a size changed", tamper(good, func(w *wireEntry) { w.Size = 11 }), testKey, 0, 1, ""},
		{"a negative size", tamper(good, func(w *wireEntry) { w.Size = -1 }), testKey, 0, 1, ""},
		{"a size over the limit, even with a MAC", encode(newEntry(testKey, sum("a"), sum("o"), MaxObjectSize+1, now)), testKey, 0, 1, ""},
		{"the used time is not authenticated", tamper(good, func(w *wireEntry) { w.Used = 1 }), testKey, 1, 0, ""},
		{"a MAC that is not hex", tamper(good, func(w *wireEntry) { w.MAC = "zz" }), testKey, 0, 1, ""},
		{"an ID that is not 32 bytes", tamper(good, func(w *wireEntry) { w.Action = "abcd" }), testKey, 0, 1, ""},
		{"not JSON", []byte("<html>"), testKey, 0, 0, "index:"},
		{"another version", []byte(`{"version":2,"entries":[]}`), testKey, 0, 0, "another format version"},
		{"too many entries", []byte(`{"version":1,"entries":[` + strings.Repeat(`{},`, MaxEntries) + `{}]}`), testKey, 0, 0, "over the"},
		{"too large", make([]byte, MaxIndexSize+1), testKey, 0, 0, "over the"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, bad, err := decodeIndex(tt.index, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != tt.want || bad != tt.bad {
				t.Errorf("kept %d, bad %d; want %d, %d", len(es), bad, tt.want, tt.bad)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	at := func(a, o string, ago time.Duration) entry {
		return newEntry(testKey, sum(a), sum(o), 1, now.Add(-ago))
	}
	all := func(entry) bool { return true }
	tests := []struct {
		name    string
		keep    func(entry) bool
		indexes [][]entry
		want    map[string]string // action → output
	}{
		{"union", all, [][]entry{{at("a", "1", 0)}, {at("b", "2", 0)}}, map[string]string{"a": "1", "b": "2"}},
		{"a later index wins for the same action", all, [][]entry{{at("a", "1", 0)}, {at("a", "2", time.Hour)}}, map[string]string{"a": "2"}},
		{"unused for longer than MaxAge: dropped", all, [][]entry{{at("a", "1", MaxAge+time.Hour), at("b", "2", MaxAge-time.Hour)}}, map[string]string{"b": "2"}},
		{"keep filters", func(e entry) bool { return e.Output != sum("1") }, [][]entry{{at("a", "1", 0), at("b", "2", 0)}}, map[string]string{"b": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := merge(now, tt.keep, tt.indexes...)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries, want %d", len(got), len(tt.want))
			}
			for _, e := range got {
				var a string
				for k := range tt.want {
					if sum(k) == e.Action {
						a = k
					}
				}
				if a == "" || sum(tt.want[a]) != e.Output {
					t.Errorf("entry %s → %s not wanted", e.Action, e.Output)
				}
			}
		})
	}
}

func TestMergeKeepsTheMostRecent(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var es []entry
	for i := range MaxEntries + 10 {
		es = append(es, newEntry(testKey, sum(string(rune(i))), sum("o"), 1, now.Add(-time.Duration(i)*time.Second)))
	}
	got := merge(now, func(entry) bool { return true }, es)
	if len(got) != MaxEntries {
		t.Fatalf("kept %d, want %d", len(got), MaxEntries)
	}
	if got[0].Used != now.Unix() || got[len(got)-1].Used != now.Unix()-int64(MaxEntries-1) {
		t.Errorf("kept the wrong ones: newest %d, oldest %d", got[0].Used, got[len(got)-1].Used)
	}
}
