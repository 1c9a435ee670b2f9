// Package harden is the hardening gate: named checks over an image's config
// and flattened filesystem, each with a stable ID, on by default and
// skippable one by one with a reason. Every failure names the file or
// setting at fault and the fix.
package harden

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/elfinfo"
	"dagger/go-image/internal/gates"
	"dagger/go-image/internal/imagefs"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/report"
)

// The checks' stable IDs, in the order they run.
const (
	UserNonroot     = "harden/user-nonroot"
	Entrypoint      = "harden/entrypoint"
	StaticBinary    = "harden/static-binary"
	Stripped        = "harden/stripped"
	BuildInfo       = "harden/buildinfo"
	CABundle        = "harden/ca-bundle"
	NoToolchain     = "harden/no-toolchain"
	NoSource        = "harden/no-source"
	NoSetuid        = "harden/no-setuid"
	NoWorldWritable = "harden/no-world-writable"
)

// IDs returns every check's ID, in run order.
func IDs() []string {
	return []string{UserNonroot, Entrypoint, StaticBinary, Stripped, BuildInfo, CABundle, NoToolchain, NoSource, NoSetuid, NoWorldWritable}
}

// DefaultMinCerts is the fewest certificates a CA bundle may hold. Public
// trust stores hold 100+; a handful means a private or truncated bundle that
// will fail TLS to most public endpoints.
const DefaultMinCerts = 10

// maxBinary bounds how much of the entrypoint is read into memory.
const maxBinary = 512 << 20

// maxAccounts bounds /etc/passwd and /etc/group, and maxCABundle the CA
// bundle: real ones are kilobytes (Mozilla's roots are ~220 kB), and a
// crafted one must not cost the entrypoint's budget in memory.
const (
	maxAccounts = 1 << 20
	maxCABundle = 16 << 20
)

// maxListed bounds the offending paths a result lists.
const maxListed = 20

// Options tune the checks; the zero value is go-image's recipe.
type Options struct {
	// User is the USER the image must have; "" means recipe.User (65532:65532).
	User string
	// CABundlePath is where the CA bundle must be; "" means recipe.CABundlePath.
	CABundlePath string
	// MinCerts is the fewest certificates in the bundle; 0 means DefaultMinCerts.
	MinCerts int
	// Skip maps a check ID to the reason it is skipped.
	Skip map[string]string
}

// ParseSkip parses --skip values of the form id=reason. A skip must say why,
// so the report shows it to whoever reviews the image.
func ParseSkip(specs []string) (map[string]string, error) {
	known := map[string]bool{}
	for _, id := range IDs() {
		known[id] = true
	}
	out := map[string]string{}
	for _, s := range specs {
		id, reason, ok := strings.Cut(s, "=")
		id, reason = strings.TrimSpace(id), strings.TrimSpace(reason)
		if !ok || reason == "" {
			return nil, fmt.Errorf("skip %q: want id=reason, e.g. %s=\"base image ships ping\"", s, NoSetuid)
		}
		if !known[id] {
			return nil, fmt.Errorf("skip %q: unknown check %q; skippable checks: %s", s, id, strings.Join(IDs(), ", "))
		}
		out[id] = reason
	}
	return out, nil
}

// Gate runs the hardening checks.
type Gate struct{ Options }

// New returns the gate with o's defaults filled in.
func New(o Options) Gate { return Gate{o} }

// Name is "harden".
func (Gate) Name() string { return "harden" }

// state is what the checks share: the config, one index of the filesystem
// and the entrypoint binary, read once.
type state struct {
	ctx     context.Context
	o       Options
	cfg     v1.Config
	fs      *imagefs.FS
	checked bool   // checkEntrypoint has run
	entry   string // resolved entrypoint path, "" when unusable
	entryOK bool
	bin     *binary
}

type binary struct {
	info elfinfo.Info
	err  error
}

// Check indexes the image's filesystem once and runs every check.
func (g Gate) Check(ctx context.Context, img v1.Image) ([]report.Result, error) {
	return gates.CheckAlone(ctx, img, g)
}

// Plan implements gates.PassGate: the harden gate indexes the filesystem,
// keeping the few files it reads, in the pass it shares with the size and
// upx gates.
func (g Gate) Plan(_ context.Context, img v1.Image, p *imagefs.Pass) (func(context.Context, *imagefs.Result) ([]report.Result, error), error) {
	o := g.Options
	if o.User == "" {
		o.User = recipe.User
	}
	if o.CABundlePath == "" {
		o.CABundlePath = recipe.CABundlePath
	}
	if o.MinCerts <= 0 {
		o.MinCerts = DefaultMinCerts
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	want := map[string]int64{recipe.PasswdPath: maxAccounts, recipe.GroupPath: maxAccounts, path.Clean(o.CABundlePath): maxCABundle}
	if ep := cf.Config.Entrypoint; len(ep) > 0 && path.IsAbs(ep[0]) {
		want[path.Clean(ep[0])] = maxBinary
	}
	p.Keep(func(e imagefs.Entry) bool {
		limit, ok := want[e.Path]
		return ok && e.Size <= limit
	}, maxBinary)
	return func(ctx context.Context, r *imagefs.Result) ([]report.Result, error) {
		if r.ApplyErr != nil {
			return nil, r.ApplyErr
		}
		return g.judge(ctx, o, cf.Config, r.FS), nil
	}, nil
}

// judge runs every check on the indexed filesystem.
func (g Gate) judge(ctx context.Context, o Options, cfg v1.Config, fsys *imagefs.FS) []report.Result {
	s := &state{ctx: ctx, o: o, cfg: cfg, fs: fsys}
	checks := []struct {
		id  string
		run func(*state) (report.Status, string, []string)
	}{
		{UserNonroot, checkUser},
		{Entrypoint, checkEntrypoint},
		{StaticBinary, checkStatic},
		{Stripped, checkStripped},
		{BuildInfo, checkBuildInfo},
		{CABundle, checkCABundle},
		{NoToolchain, checkToolchain},
		{NoSource, checkSource},
		{NoSetuid, checkSetuid},
		{NoWorldWritable, checkWorldWritable},
	}
	var out []report.Result
	for _, c := range checks {
		if reason, ok := o.Skip[c.id]; ok {
			out = append(out, report.Result{Gate: "harden", ID: c.id, Status: report.Skipped, Message: "skipped: " + reason})
			continue
		}
		status, msg, details := c.run(s)
		out = append(out, report.Result{Gate: "harden", ID: c.id, Status: status, Message: msg, Details: details})
	}
	return out
}

func pass(msg string, a ...any) (report.Status, string, []string) {
	return report.Pass, fmt.Sprintf(msg, a...), nil
}

func fail(msg string, a ...any) (report.Status, string, []string) {
	return report.Fail, fmt.Sprintf(msg, a...), nil
}

// checkUser: a numeric, non-root USER that the image's account files know.
// Kubernetes' runAsNonRoot can verify only a numeric user; a name makes the
// kubelet refuse the pod.
func checkUser(s *state) (report.Status, string, []string) {
	u := s.cfg.User
	fix := fmt.Sprintf("set USER %s", s.o.User)
	if u == "" {
		return fail("no USER: the container runs as root; %s", fix)
	}
	uid, gid, hasGID := strings.Cut(u, ":")
	for _, f := range []struct{ what, v string }{{"user", uid}, {"group", gid}} {
		if f.what == "group" && !hasGID {
			continue
		}
		if _, err := strconv.ParseUint(f.v, 10, 32); err != nil {
			return fail("USER %q: %s %q is a name, which Kubernetes runAsNonRoot cannot verify (the pod is refused); use numeric IDs: %s", u, f.what, f.v, fix)
		}
		if n, _ := strconv.ParseUint(f.v, 10, 32); n == 0 {
			return fail("USER %q runs as root (%s 0); %s", u, f.what, fix)
		}
	}
	if u != s.o.User {
		return fail("USER %q is not the expected %s; %s, or skip %s with a reason", u, s.o.User, fix, UserNonroot)
	}
	var notes []string
	for _, f := range []struct {
		file, id, what string
	}{{recipe.PasswdPath, uid, "user"}, {recipe.GroupPath, gid, "group"}} {
		if f.id == "" {
			continue
		}
		// Without the file the check cannot see which account the ID is,
		// and neither can the programs that look it up: it fails, as
		// documented, rather than pass on what it could not read.
		b, err := s.readSmall(f.file, maxAccounts)
		if err != nil {
			return fail("%s %s cannot be checked: %v: programs that look the account up (os/user, ssh, some libraries) fail too; add a regular file %s with e.g. %q (go-image's recipe writes it)", f.what, f.id, err, f.file, entryFor(f.file, f.id))
		}
		name, ok := lookupID(string(b), f.id)
		if !ok {
			return fail("%s %s has no entry in %s: programs that look the account up (os/user, ssh, some libraries) fail; add e.g. %q", f.what, f.id, f.file, entryFor(f.file, f.id))
		}
		notes = append(notes, fmt.Sprintf("%s %s in %s", name, f.id, f.file))
	}
	return pass("USER %s, non-root and numeric (%s)", u, strings.Join(notes, ", "))
}

// readSmall reads a regular file of at most limit bytes, following links
// as the container would. Its size is checked before any byte is read.
func (s *state) readSmall(p string, limit int64) ([]byte, error) {
	e, err := s.fs.Resolve(p)
	if err != nil {
		return nil, err
	}
	if !e.Regular() {
		return nil, fmt.Errorf("%s is not a regular file (it resolves to %s, tar type %q)", p, e.Path, e.Type)
	}
	if e.Size > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit for this file", p, e.Size, limit)
	}
	return s.fs.ReadFile(s.ctx, p)
}

func entryFor(file, id string) string {
	if file == recipe.GroupPath {
		return fmt.Sprintf("%s:x:%s:", recipe.UserName, id)
	}
	return fmt.Sprintf("%s:x:%s:%s:%s:%s:/sbin/nologin", recipe.UserName, id, id, recipe.UserName, recipe.HomeDir)
}

// lookupID finds the entry whose third field (the numeric ID) is id.
func lookupID(file, id string) (string, bool) {
	for _, l := range strings.Split(file, "\n") {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) >= 3 && f[2] == id && !strings.HasPrefix(f[0], "#") {
			return f[0], true
		}
	}
	return "", false
}

var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "ksh": true, "busybox": true}

// checkEntrypoint: exec form, pointing at an executable regular file. A
// shell as PID 1 does not forward SIGTERM, so the service is killed at the
// end of the grace period instead of draining.
func checkEntrypoint(s *state) (report.Status, string, []string) {
	s.checked = true
	ep := s.cfg.Entrypoint
	if len(ep) == 0 {
		if len(s.cfg.Cmd) > 0 {
			return fail("no ENTRYPOINT, only CMD %q, which `docker run IMAGE ARGS` or a pod's command replaces; set an exec-form ENTRYPOINT [\"%s/<binary>\"]", s.cfg.Cmd, recipe.BinDir)
		}
		return fail("no ENTRYPOINT: the image runs nothing; set an exec-form ENTRYPOINT [\"%s/<binary>\"]", recipe.BinDir)
	}
	if shells[path.Base(ep[0])] {
		return fail("ENTRYPOINT %q is shell form: the shell is PID 1, does not forward SIGTERM and must exist in the image; use exec form [\"%s/<binary>\", args…]", ep, recipe.BinDir)
	}
	p := ep[0]
	if !path.IsAbs(p) && strings.Contains(p, "/") {
		// As the runtime resolves it (exec.LookPath in runc): a name with a
		// slash is relative to the working directory, never looked up on
		// PATH, where a decoy of that relative name could be.
		wd := s.cfg.WorkingDir
		if !path.IsAbs(wd) {
			wd = "/" + wd
		}
		p = path.Join(wd, p)
	}
	if !path.IsAbs(p) {
		found, ok := s.lookPath(p)
		if !ok {
			return fail("ENTRYPOINT %q: %s is not an absolute path and is not found on the image's PATH; use the absolute path, e.g. %s/%s", ep, p, recipe.BinDir, p)
		}
		p = found
	}
	e, err := s.fs.Resolve(p)
	if err != nil {
		return fail("ENTRYPOINT %s does not exist in the image (%v): copy the binary there or fix the ENTRYPOINT path", p, err)
	}
	if !e.Regular() {
		return fail("ENTRYPOINT %s is not a regular file (it resolves to %s, type %q): point ENTRYPOINT at the binary itself", p, e.Path, e.Type)
	}
	// The binary checks judge a regular file even if it is not executable:
	// each failure should be reported once, by the check it belongs to.
	s.entry, s.entryOK = e.Path, true
	if !e.Executable() {
		return fail("ENTRYPOINT %s is not executable (mode %04o): chmod 0555 %s", e.Path, e.Mode.Perm(), e.Path)
	}
	via := ""
	if e.Path != p {
		via = " (via " + p + ")"
	}
	return pass("exec form, %s%s is an executable regular file (mode %04o)", e.Path, via, e.Mode.Perm())
}

func (s *state) lookPath(name string) (string, bool) {
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range s.cfg.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if !path.IsAbs(dir) {
			continue
		}
		p := path.Join(dir, name)
		// The first executable regular file, as exec.LookPath finds it: a
		// file that is not executable is passed over, not judged.
		if e, err := s.fs.Resolve(p); err == nil && e.Regular() && e.Executable() {
			return p, true
		}
	}
	return "", false
}

// binary reads the entrypoint once for the three checks on it.
func (s *state) binary() (*binary, string) {
	if !s.checked {
		// harden/entrypoint was skipped: resolve the binary all the same.
		checkEntrypoint(s)
	}
	if !s.entryOK {
		return nil, fmt.Sprintf("cannot check: no usable entrypoint binary (see %s)", Entrypoint)
	}
	if s.bin == nil {
		s.bin = &binary{}
		b, err := s.fs.ReadFile(s.ctx, s.entry)
		if err != nil {
			s.bin.err = err
		} else if !elfinfo.IsELF(b) {
			s.bin.err = fmt.Errorf("not an ELF binary (a script?): go-image images run the compiled Go binary directly")
		} else {
			s.bin.info, s.bin.err = elfinfo.Read(bytes.NewReader(b))
		}
	}
	if s.bin.err != nil {
		return nil, fmt.Sprintf("entrypoint %s: %v", s.entry, s.bin.err)
	}
	return s.bin, ""
}

func checkStatic(s *state) (report.Status, string, []string) {
	b, why := s.binary()
	if b == nil {
		return fail("%s", why)
	}
	if !b.info.Static() {
		var what []string
		if b.info.Interp != "" {
			what = append(what, "interpreter "+b.info.Interp)
		}
		if len(b.info.Needed) > 0 {
			what = append(what, "needs "+strings.Join(b.info.Needed, ", "))
		}
		return fail("entrypoint %s is dynamically linked (%s): it cannot run on scratch; build with CGO_ENABLED=0", s.entry, strings.Join(what, "; "))
	}
	return pass("entrypoint %s is statically linked (no PT_INTERP, no DT_NEEDED)", s.entry)
}

func checkStripped(s *state) (report.Status, string, []string) {
	b, why := s.binary()
	if b == nil {
		return fail("%s", why)
	}
	if !b.info.Stripped() {
		secs := b.info.SymbolSections
		if len(secs) > 6 {
			secs = append(secs[:6:6], fmt.Sprintf("and %d more", len(b.info.SymbolSections)-6))
		}
		return fail("entrypoint %s is not stripped (%s): build with -ldflags=\"-s -w\"", s.entry, strings.Join(secs, ", "))
	}
	return pass("entrypoint %s is stripped (no .symtab, no DWARF)", s.entry)
}

func checkBuildInfo(s *state) (report.Status, string, []string) {
	b, why := s.binary()
	if b == nil {
		return fail("%s", why)
	}
	g := b.info.Go
	if g == nil {
		return fail("entrypoint %s has no Go build info: not a Go binary, or packed (UPX) so scanners cannot read its modules; build it with go-image's recipe", s.entry)
	}
	var problems, fixes []string
	if g.Settings["-trimpath"] != "true" {
		problems = append(problems, "built without -trimpath (builder paths are embedded)")
		fixes = append(fixes, "build with -trimpath")
	}
	if cgo := g.Settings["CGO_ENABLED"]; cgo != "0" {
		if cgo == "" {
			cgo = "unset"
		}
		problems = append(problems, "CGO_ENABLED="+cgo)
		fixes = append(fixes, "build with CGO_ENABLED=0")
	}
	if len(problems) > 0 {
		return fail("entrypoint %s: %s; %s", s.entry, strings.Join(problems, ", "), strings.Join(fixes, " and "))
	}
	return pass("entrypoint %s: %s, -trimpath, CGO_ENABLED=0", s.entry, g.GoVersion)
}

// checkCABundle: a scratch image has no trust store unless one is added, and
// every outbound TLS call fails with "certificate signed by unknown authority".
func checkCABundle(s *state) (report.Status, string, []string) {
	p := s.o.CABundlePath
	b, err := s.readSmall(p, maxCABundle)
	if err != nil {
		return fail("no CA bundle at %s (%v): outbound TLS fails with \"x509: certificate signed by unknown authority\"; add a PEM bundle there (go-image's recipe writes one)", p, err)
	}
	n, skipped := 0, 0
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			skipped++
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fail("CA bundle %s: certificate #%d does not parse (%v): regenerate the bundle", p, n+1, err)
		}
		n++
	}
	if n < s.o.MinCerts {
		return fail("CA bundle %s holds %d certificate(s), fewer than %d: it is truncated or private; use a full public bundle (go-image's recipe writes Mozilla's roots)", p, n, s.o.MinCerts)
	}
	note := ""
	if skipped > 0 {
		note = fmt.Sprintf(" (%d non-certificate PEM block(s) ignored)", skipped)
	}
	return pass("CA bundle %s: %d certificates parse%s", p, n, note)
}

// checkToolchain: a Go toolchain in the final image is hundreds of MB and a
// compiler at an attacker's disposal.
func checkToolchain(s *state) (report.Status, string, []string) {
	found := map[string]string{}
	for _, e := range s.fs.Entries() {
		p := e.Path
		switch {
		case p == "/usr/local/go" || strings.HasPrefix(p, "/usr/local/go/"):
			found["/usr/local/go"] = "GOROOT tree"
		case strings.Contains(p, "/pkg/tool/"):
			found[p[:strings.Index(p, "/pkg/tool/")]] = "GOROOT tree (pkg/tool)"
		case strings.HasSuffix(p, "/src/runtime/proc.go"):
			found[strings.TrimSuffix(p, "/src/runtime/proc.go")] = "GOROOT tree (src/runtime)"
		case strings.Contains(p, "/pkg/mod/cache/download/"):
			found[p[:strings.Index(p, "/pkg/mod/")]+"/pkg/mod"] = "Go module cache"
		case !e.Dir() && (path.Base(p) == "go" || path.Base(p) == "gofmt") && (e.Regular() && e.Executable() || e.Type == tar.TypeSymlink):
			found[p] = "go binary"
		}
	}
	if len(found) == 0 {
		return pass("no Go toolchain (/usr/local/go, GOROOT trees, go binaries, module cache)")
	}
	list := describe(found)
	return report.Fail, fmt.Sprintf("Go toolchain in the image: %s; copy only the compiled binary into the final stage (multi-stage build) and remove %s", first(list, 3), firstKey(found)), limit(list)
}

// checkSource: source in the image leaks code and is a sign the build stage
// was shipped.
func checkSource(s *state) (report.Status, string, []string) {
	var files []string
	for _, e := range s.fs.Entries() {
		if !e.Regular() {
			continue
		}
		base := path.Base(e.Path)
		if strings.HasSuffix(base, ".go") || base == "go.mod" || base == "go.sum" || base == "go.work" {
			files = append(files, e.Path)
		}
	}
	if len(files) == 0 {
		return pass("no Go source (*.go, go.mod, go.sum, go.work)")
	}
	return report.Fail, fmt.Sprintf("Go source in the image: %d file(s), e.g. %s; copy only the compiled binary into the final stage, not the source tree", len(files), first(files, 3)), limit(files)
}

// checkSetuid: a setuid/setgid file is a privilege escalation path for
// anyone who gets code execution in the container, and so is a file with
// file capabilities (the security.capability xattr: cap_setuid+ep on a
// shell is setuid root without the bit).
func checkSetuid(s *state) (report.Status, string, []string) {
	var files []string
	for _, e := range s.fs.Entries() {
		// A setgid directory only sets new files' group: not an escalation.
		if e.Dir() || e.Mode&(fs.ModeSetuid|fs.ModeSetgid) == 0 && !e.Capabilities {
			continue
		}
		var bits []string
		if e.Capabilities {
			bits = append(bits, "file capabilities (security.capability)")
		}
		if e.Mode&fs.ModeSetuid != 0 {
			bits = append(bits, fmt.Sprintf("setuid uid %d", e.UID))
		}
		if e.Mode&fs.ModeSetgid != 0 {
			bits = append(bits, fmt.Sprintf("setgid gid %d", e.GID))
		}
		files = append(files, fmt.Sprintf("%s (%s, mode %s)", e.Path, strings.Join(bits, ", "), octal(e.Mode)))
	}
	if len(files) == 0 {
		return pass("no setuid or setgid files, no file capabilities")
	}
	return report.Fail, fmt.Sprintf("setuid/setgid file(s) or file capabilities: %s; remove the chmod u+s / g+s (chmod ug-s the file) or the capabilities (setcap -r the file), or delete the file", first(files, 3)), limit(files)
}

// checkWorldWritable: any process could replace a world-writable file. A
// directory with the sticky bit (such as /tmp, mode 1777) is allowed: it is
// world-writable by design, and the sticky bit stops users from removing or
// renaming each other's files.
func checkWorldWritable(s *state) (report.Status, string, []string) {
	var bad, sticky []string
	for _, e := range s.fs.Entries() {
		if e.Type == tar.TypeSymlink || e.Mode.Perm()&0o002 == 0 { // symlinks are always 0777
			continue
		}
		if e.Dir() && e.Mode&fs.ModeSticky != 0 {
			sticky = append(sticky, fmt.Sprintf("allowed: %s (sticky directory, mode %s)", e.Path, octal(e.Mode)))
			continue
		}
		kind := "file"
		if e.Dir() {
			kind = "directory"
		}
		bad = append(bad, fmt.Sprintf("%s (%s, mode %s)", e.Path, kind, octal(e.Mode)))
	}
	if len(bad) == 0 {
		msg := "no world-writable files or directories"
		if len(sticky) > 0 {
			msg += fmt.Sprintf(" (%d sticky directory allowed)", len(sticky))
		}
		return report.Pass, msg, limit(sticky)
	}
	return report.Fail, fmt.Sprintf("world-writable: %s; chmod o-w them, and give the runtime user (%s) ownership of what it must write instead", first(bad, 3), recipe.User), limit(append(bad, sticky...))
}

// octal renders a mode as chmod would take it, special bits included.
func octal(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}

func describe(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for p, what := range m {
		out = append(out, p+" ("+what+")")
	}
	sort.Strings(out)
	return out
}

func firstKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys[:min(len(keys), 3)], ", ")
}

func first(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:n], ", ") + fmt.Sprintf(" and %d more", len(list)-n)
}

func limit(list []string) []string {
	if len(list) <= maxListed {
		return list
	}
	return append(list[:maxListed:maxListed], fmt.Sprintf("… and %d more", len(list)-maxListed))
}
