// Command lintcorpus measures go-image's lint on real services: it runs the
// analyzers (in process, as `go-image lint` does) over local checkouts, times
// them against `go vet ./...` on the same tree, and compares every finding
// with the judgement recorded in bench/lint-corpus.expect, printing
// precision and recall per analyzer. Recall counts the misses recorded in
// the expect file: pitfalls found by reading each repository's code that no
// finding reports. It fetches nothing: bench/lint-corpus.sh says how to get
// the checkouts.
//
//	go run ./bench/lintcorpus -corpus /work/corpus [-expect bench/lint-corpus.expect] [name ...]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"dagger/go-image/internal/lint"
)

// repo is one corpus entry of the expect file.
type repo struct {
	name, github, commit string
	goflags              string
}

// judgement is one expected finding (true or false positive), or a miss:
// a pitfall found by reading the repository's code that the analyzers do
// not report. A miss names the analyzer whose claim covers it, or
// "unclaimed" when no analyzer claims it; misses count against recall.
type judgement struct {
	repo, analyzer, pos string
	truePositive        bool
	miss                bool
	reason              string
	line                int
}

// unclaimed is the analyzer name of a miss outside every analyzer's claims.
const unclaimed = "unclaimed"

func main() {
	corpus := flag.String("corpus", "", "directory holding one checkout per corpus repository, named as in the expect file")
	expect := flag.String("expect", "bench/lint-corpus.expect", "expectation file")
	noVet := flag.Bool("no-vet", false, "do not time go vet")
	vetOnly := flag.String("vet-repos", "", "time go vet only on these repositories (comma-separated names); default all")
	markdown := flag.Bool("markdown", false, "print the tables as Markdown (for README)")
	flag.IntVar(&repeat, "repeat", 2, "timed runs of go vet and of the lint per repository, after one untimed run of each; the fastest counts")
	flag.Parse()
	if repeat < 1 {
		fmt.Fprintln(os.Stderr, "lintcorpus: -repeat must be at least 1")
		os.Exit(2)
	}
	if *corpus == "" {
		fmt.Fprintln(os.Stderr, "lintcorpus: -corpus DIR is required (see bench/lint-corpus.sh)")
		os.Exit(2)
	}
	repos, judged, err := readExpect(*expect)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lintcorpus:", err)
		os.Exit(2)
	}
	only := map[string]bool{}
	for _, a := range flag.Args() {
		only[a] = true
	}
	vetFor := func(name string) bool {
		if *noVet {
			return false
		}
		if *vetOnly == "" {
			return true
		}
		for _, n := range strings.Split(*vetOnly, ",") {
			if strings.TrimSpace(n) == name {
				return true
			}
		}
		return false
	}
	if err := run(context.Background(), os.Stdout, *corpus, repos, judged, only, vetFor, *markdown); err != nil {
		fmt.Fprintln(os.Stderr, "lintcorpus:", err)
		os.Exit(1)
	}
}

func readExpect(path string) ([]repo, map[string]*judgement, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var repos []repo
	judged := map[string]*judgement{}
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, reason, _ := strings.Cut(line, " -- ")
		fields := strings.Fields(head)
		switch {
		case fields[0] == "repo" && (len(fields) == 4 || len(fields) == 5):
			r := repo{name: fields[1], github: fields[2], commit: fields[3]}
			if len(fields) == 5 {
				r.goflags = fields[4]
			}
			repos = append(repos, r)
		case (fields[0] == "true" || fields[0] == "false" || fields[0] == "miss") && len(fields) == 4 && strings.TrimSpace(reason) != "":
			j := &judgement{repo: fields[1], analyzer: fields[2], pos: fields[3], truePositive: fields[0] != "false", miss: fields[0] == "miss", reason: strings.TrimSpace(reason), line: n}
			if !known(j.analyzer) && !(j.miss && j.analyzer == unclaimed) {
				return nil, nil, fmt.Errorf("%s:%d: no analyzer %q (a miss outside every claim names %q)", path, n, j.analyzer, unclaimed)
			}
			k := key(j.repo, j.analyzer, j.pos)
			if judged[k] != nil {
				return nil, nil, fmt.Errorf("%s:%d: %s judged twice", path, n, k)
			}
			judged[k] = j
		default:
			return nil, nil, fmt.Errorf("%s:%d: want `repo NAME OWNER/REPO COMMIT [GOFLAGS]` or `true|false|miss REPO ANALYZER FILE:LINE -- reason`", path, n)
		}
	}
	return repos, judged, s.Err()
}

// repeat is how many timed runs of each side are made (-repeat).
var repeat = 2

func key(repo, analyzer, pos string) string { return repo + " " + analyzer + " " + pos }

func known(analyzer string) bool {
	for _, a := range lint.Analyzers() {
		if a.Name == analyzer {
			return true
		}
	}
	return false
}

type tally struct{ tp, fp, fn, unjudged int }

func run(ctx context.Context, w io.Writer, corpus string, repos []repo, judged map[string]*judgement, only map[string]bool, vet func(string) bool, markdown bool) error {
	per := map[string]*tally{unclaimed: {}}
	for _, a := range lint.Analyzers() {
		per[a.Name] = &tally{}
	}
	seen := map[string]bool{}
	tw := newTable(w, markdown)
	tw.row("repository\tcommit\tpackages\tfindings\ttrue\tfalse\tmissed\tprecision\trecall\tlint s\tgo vet s\tlint / vet")
	var rows []string
	var failed []string
	for _, r := range repos {
		if len(only) > 0 && !only[r.name] {
			for k, j := range judged {
				if j.repo == r.name {
					seen[k] = true
				}
			}
			continue
		}
		dir := filepath.Join(corpus, r.name)
		head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
		if err != nil || !strings.HasPrefix(strings.TrimSpace(string(head)), r.commit) {
			return fmt.Errorf("%s: %s is not a checkout of %s at %s (git clone the fetched repository there and git checkout %s)", r.name, dir, r.github, r.commit, r.commit)
		}
		env := []string{}
		if r.goflags != "" {
			env = append(env, "GOFLAGS="+r.goflags)
		}
		// Both sides run once untimed to warm their caches (go vet's facts
		// of every dependency and test package; the lint's export data),
		// then -repeat times each, interleaved; the fastest run counts, so
		// that a busy machine's noise inflates neither side.
		runVet := func() (float64, error) {
			cmd := exec.CommandContext(ctx, "go", "vet", "./...")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), env...)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil && !strings.Contains(string(out), ".go:") {
				return 0, fmt.Errorf("%s: go vet: %v\n%s", r.name, err, out)
			}
			return time.Since(start).Seconds(), nil
		}
		var fs []lint.Finding
		var npkgs int
		runLint := func() (float64, error) {
			for _, e := range env {
				k, v, _ := strings.Cut(e, "=")
				os.Setenv(k, v)
			}
			defer os.Unsetenv("GOFLAGS")
			start := time.Now()
			var err error
			fs, npkgs, err = lint.Run(ctx, dir, lint.Options{})
			if err != nil {
				return 0, fmt.Errorf("%s: %w", r.name, err)
			}
			return time.Since(start).Seconds(), nil
		}
		var vetSecs, lintSecs float64
		timed := vet(r.name)
		runs := 1
		if timed {
			runs = 1 + repeat
		}
		for i := 0; i < runs; i++ {
			if timed {
				secs, err := runVet()
				if err != nil {
					return err
				}
				if i > 0 && (vetSecs == 0 || secs < vetSecs) {
					vetSecs = secs
				}
			}
			secs, err := runLint()
			if err != nil {
				return err
			}
			if !timed || i > 0 && (lintSecs == 0 || secs < lintSecs) {
				lintSecs = secs
			}
		}
		t := tally{}
		for _, f := range fs {
			rel, _ := filepath.Rel(dir, f.Pos.Filename)
			pos := fmt.Sprintf("%s:%d", rel, f.Pos.Line)
			k := key(r.name, f.Analyzer, pos)
			seen[k] = true
			j := judged[k]
			switch {
			case j == nil:
				t.unjudged++
				per[f.Analyzer].unjudged++
				failed = append(failed, fmt.Sprintf("unjudged: %s %s %s: %s", r.name, f.Analyzer, pos, f.Message))
			case j.miss:
				// Found now: the expect file should say true.
				t.tp++
				per[f.Analyzer].tp++
				failed = append(failed, fmt.Sprintf("recorded miss now found (write `true` for it): %s %s %s (%s)", r.name, f.Analyzer, pos, j.reason))
			case j.truePositive:
				t.tp++
				per[f.Analyzer].tp++
			default:
				t.fp++
				per[f.Analyzer].fp++
				failed = append(failed, fmt.Sprintf("false positive: %s %s %s (%s): %s", r.name, f.Analyzer, pos, j.reason, f.Message))
			}
		}
		for k, j := range judged {
			if j.repo == r.name && j.truePositive && !seen[k] {
				t.fn++
				per[j.analyzer].fn++
				if !j.miss {
					failed = append(failed, fmt.Sprintf("missed: %s %s %s (%s)", r.name, j.analyzer, j.pos, j.reason))
				}
			}
		}
		ratio := "-"
		if vetSecs > 0 {
			ratio = fmt.Sprintf("%.2f", lintSecs/vetSecs)
		}
		vetCol := "-"
		if vetSecs > 0 {
			vetCol = fmt.Sprintf("%.1f", vetSecs)
		}
		rows = append(rows, fmt.Sprintf("%s\t%.7s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%.1f\t%s\t%s", r.github, r.commit, npkgs, len(fs), t.tp, t.fp, t.fn, pct(t.tp, t.tp+t.fp), pct(t.tp, t.tp+t.fn), lintSecs, vetCol, ratio))
		fmt.Fprintf(os.Stderr, "lintcorpus: %s: %d findings in %.1fs (go vet %.1fs)\n", r.name, len(fs), lintSecs, vetSecs)
	}
	for _, row := range rows {
		tw.row(row)
	}
	tw.flush()
	fmt.Fprintln(w)
	tw = newTable(w, markdown)
	tw.row("analyzer\ttrue\tfalse\tmissed\tunjudged\tprecision\trecall")
	var names []string
	for n := range per {
		names = append(names, n)
	}
	sort.Strings(names)
	all := tally{}
	for _, n := range names {
		t := per[n]
		all.tp, all.fp, all.fn, all.unjudged = all.tp+t.tp, all.fp+t.fp, all.fn+t.fn, all.unjudged+t.unjudged
		tw.row(fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%s\t%s", n, t.tp, t.fp, t.fn, t.unjudged, pct(t.tp, t.tp+t.fp), pct(t.tp, t.tp+t.fn)))
	}
	tw.row(fmt.Sprintf("all\t%d\t%d\t%d\t%d\t%s\t%s", all.tp, all.fp, all.fn, all.unjudged, pct(all.tp, all.tp+all.fp), pct(all.tp, all.tp+all.fn)))
	tw.flush()
	for k, j := range judged {
		if !seen[k] && !j.truePositive {
			fmt.Fprintf(w, "note: false positive no longer reported: %s %s %s (%s)\n", j.repo, j.analyzer, j.pos, j.reason)
		}
	}
	sort.Strings(failed)
	for _, f := range failed {
		fmt.Fprintln(w, f)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d finding(s) differ from %s: every finding must be a judged true positive, and every true positive found", len(failed), "the expect file")
	}
	return nil
}

// table prints tab-separated rows aligned for a terminal, or as Markdown.
type table struct {
	w        io.Writer
	tw       *tabwriter.Writer
	markdown bool
	n        int
}

func newTable(w io.Writer, markdown bool) *table {
	return &table{w: w, tw: tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug), markdown: markdown}
}

func (t *table) row(cells string) {
	t.n++
	if !t.markdown {
		fmt.Fprintln(t.tw, cells)
		return
	}
	cols := strings.Split(cells, "\t")
	fmt.Fprintf(t.w, "| %s |\n", strings.Join(cols, " | "))
	if t.n == 1 {
		fmt.Fprintf(t.w, "|%s\n", strings.Repeat("---|", len(cols)))
	}
}

func (t *table) flush() { t.tw.Flush() }

func pct(n, d int) string {
	if d == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f %%", 100*float64(n)/float64(d))
}
