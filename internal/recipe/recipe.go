// Package recipe is the single statement of how go-image builds an image: the
// compile command line and environment, the files of the final stage and its
// config. The Dagger module and the daemonless CLI both execute this recipe,
// so a hardening rule changed here changes everywhere.
package recipe

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"dagger/go-image/internal/safetext"
)

// The identity of the runtime user. 65532 is distroless' "nonroot": an
// unprivileged ID that collides with no distribution's system accounts.
const (
	UID      = 65532
	GID      = 65532
	UserName = "nonroot"
	User     = "65532:65532"
	HomeDir  = "/home/nonroot"

	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
	PasswdPath   = "/etc/passwd"
	GroupPath    = "/etc/group"
	// BinDir holds the service binary. It is not on any Go toolchain path, so
	// the hardening gate can tell a service binary from a leaked toolchain.
	BinDir = "/usr/local/bin"
)

// Base is the final stage's base image.
type Base string

const (
	Scratch Base = "scratch"
	Alpine  Base = "alpine"
)

// Defaults that users see in --help and README.
const (
	// DefaultGoVersion is the builder's Go when the source's go.mod names
	// none (see GoVersionOf).
	DefaultGoVersion  = "1.26"
	DefaultPlatform   = "linux/amd64"
	DefaultVersionVar = "main.version"
	// DefaultAlpineImage is the alpine base when the user names none. Both
	// executors resolve it to a digest once per build and pull by digest.
	DefaultAlpineImage = "alpine:3.22"
)

// Options are the user's choices. The zero value plus a Main package is a valid
// recipe once Normalize has filled in the defaults.
type Options struct {
	// Main is the main package, relative to the module root ("." or "./cmd/api").
	Main string
	// Name is the binary's file name; derived from Main (or the module) if empty.
	Name string
	// GoVersion is the golang builder image tag the Dagger module uses.
	GoVersion string
	// Platform is the target os/arch[/variant], e.g. linux/arm64.
	Platform string
	// Base is scratch or alpine.
	Base Base
	// Version is injected with -X VersionVar=Version when non-empty.
	Version string
	// VersionVar is the fully qualified string variable Version is written to.
	VersionVar string
	// Ldflags are extra linker flags, appended after the hardening flags.
	Ldflags []string
	// Tags are Go build tags.
	Tags []string
	// Labels are extra OCI labels; they may override the generated ones.
	Labels map[string]string
	// Source and Revision fill org.opencontainers.image.source/revision.
	Source   string
	Revision string
	// SourceDateEpoch (seconds) fixes every timestamp in the image so that
	// the same inputs give the same digest. 0 means the Unix epoch.
	SourceDateEpoch int64
}

// DefaultName is the binary name for a main package: its directory, or the
// last element of the module path when the module root is the main package
// (a major-version suffix such as /v2 is skipped).
func DefaultName(main, modulePath string) string {
	m := path.Clean(main)
	if m != "." && m != "" {
		return path.Base(m)
	}
	elems := strings.Split(modulePath, "/")
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		if e == "" || (len(e) > 1 && e[0] == 'v' && strings.Trim(e[1:], "0123456789") == "") {
			continue
		}
		return e
	}
	return "app"
}

// CheckName checks a binary's name: it names the binary file, the
// image's repository through an address's {name}, and DIR/NAME.tar, so it
// is one path element of a few safe characters ("x/../../evil" would
// leave the repository the address meant).
func CheckName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("binary name of %d bytes, at most %d (it names the image's repository, and a registry refuses a long one only at the push): rename the main package's directory, or give --name", len(name), MaxNameLen)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("binary name %q: use letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

// Platform is a parsed target platform.
type Platform struct {
	OS, Arch, Variant string
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

var supportedArch = map[string]bool{
	"amd64": true, "arm64": true, "arm": true, "386": true,
	"ppc64le": true, "s390x": true, "riscv64": true,
}

// ParsePlatform parses os/arch[/variant]. Only linux targets make sense for a
// container image.
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.OS != "linux" {
		return Platform{}, fmt.Errorf("platform %q: only linux images are supported", s)
	}
	if !supportedArch[p.Arch] {
		return Platform{}, fmt.Errorf("platform %q: unsupported architecture %q (supported: %s)", s, p.Arch, strings.Join(sortedKeys(supportedArch), ", "))
	}
	if p.Variant != "" && p.Arch != "arm" && !(p.Arch == "arm64" && p.Variant == "v8") {
		return Platform{}, fmt.Errorf("platform %q: variant %q is only meaningful for arm (v6, v7)", s, p.Variant)
	}
	if p.Arch == "arm" {
		switch p.Variant {
		case "":
			p.Variant = "v7"
		case "v5", "v6", "v7":
		default:
			return Platform{}, fmt.Errorf("platform %q: arm variant must be v5, v6 or v7", s)
		}
	}
	return p, nil
}

// ParsePlatforms parses a comma-separated platform list, rejecting duplicates.
func ParsePlatforms(s string) ([]Platform, error) {
	var out []Platform
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		p, err := ParsePlatform(f)
		if err != nil {
			return nil, err
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("platform %q listed twice", p)
		}
		seen[p.String()] = true
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no platform given: want e.g. linux/amd64,linux/arm64")
	}
	return out, nil
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// MaxNameLen bounds a binary's name: the source names it (its main
// package's directory), and {name} puts it in a repository, which a
// registry allows 255 bytes in all, host and path included.
const MaxNameLen = 128

var (
	nameRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	goVersionRE  = regexp.MustCompile(`^1\.[0-9]+(\.[0-9]+)?(rc[0-9]+)?(-[a-z0-9.]+)?$`)
	versionVarRE = regexp.MustCompile(`^[A-Za-z0-9_./-]+\.[A-Za-z_][A-Za-z0-9_]*$`)
	tagRE        = regexp.MustCompile(`^[A-Za-z0-9_.]+(,[A-Za-z0-9_.]+)*$`)
)

// MaxSourceDateEpoch is 9999-12-31T23:59:59Z, the last second an image
// config's timestamps can hold.
const MaxSourceDateEpoch = 253402300799

// Normalize fills defaults and rejects bad input with the cause and a fix.
func (o Options) Normalize() (Options, error) {
	if err := o.checkText(); err != nil {
		return o, err
	}
	if o.Main == "" {
		o.Main = "."
	}
	o.Main = path.Clean(o.Main)
	if path.IsAbs(o.Main) || strings.HasPrefix(o.Main, "../") || o.Main == ".." {
		return o, fmt.Errorf("main package %q: must be a path inside the source directory, e.g. ./cmd/server", o.Main)
	}
	if o.Main != "." && !strings.HasPrefix(o.Main, "./") {
		o.Main = "./" + o.Main
	}
	if o.Name == "" {
		o.Name = path.Base(o.Main)
		if o.Name == "." {
			o.Name = "app"
		}
	}
	if err := CheckName(o.Name); err != nil {
		return o, err
	}
	if o.GoVersion == "" {
		o.GoVersion = DefaultGoVersion
	}
	if !goVersionRE.MatchString(o.GoVersion) {
		return o, fmt.Errorf("go version %q: want a golang image tag such as 1.26 or 1.26.1", o.GoVersion)
	}
	if o.Platform == "" {
		o.Platform = DefaultPlatform
	}
	p, err := ParsePlatform(o.Platform)
	if err != nil {
		return o, err
	}
	o.Platform = p.String()
	switch o.Base {
	case "":
		o.Base = Scratch
	case Scratch, Alpine:
	default:
		return o, fmt.Errorf("base %q: unknown base image; use %q or %q", o.Base, Scratch, Alpine)
	}
	if o.VersionVar == "" {
		o.VersionVar = DefaultVersionVar
	}
	if !versionVarRE.MatchString(o.VersionVar) {
		return o, fmt.Errorf("version variable %q: want importpath.name, e.g. main.version", o.VersionVar)
	}
	if err := checkXTarget(o.VersionVar); err != nil {
		return o, fmt.Errorf("version variable: %w", err)
	}
	if strings.ContainsAny(o.Version, " '\"") {
		return o, fmt.Errorf("version %q: must not contain spaces or quotes: go build splits -ldflags on them", o.Version)
	}
	for _, t := range o.Tags {
		if !tagRE.MatchString(t) {
			return o, fmt.Errorf("build tag %q: a tag is letters, digits, '_' and '.' (several may be joined with ','): go build would read anything else in -tags as another separator or flag", t)
		}
	}
	if err := checkLdflags(o.Ldflags); err != nil {
		return o, err
	}
	if o.SourceDateEpoch < 0 {
		return o, fmt.Errorf("source date epoch %d: must be seconds since 1970, not negative", o.SourceDateEpoch)
	}
	if o.SourceDateEpoch > MaxSourceDateEpoch {
		return o, fmt.Errorf("source date epoch %d: after 9999-12-31, which an image's timestamps cannot hold (RFC 3339 has four-digit years): use a commit's time, `git log -1 --format=%%ct`", o.SourceDateEpoch)
	}
	return o, nil
}

// checkText refuses control and invisible characters in every input that
// reaches the compiler's command line or the image's labels, before any of
// it is used. go build splits -ldflags on '\r' as on a space, so a version
// "1.0\r-X\rmain.x=y" would inject linker flags; in a label, an escape
// sequence or a bidi override shows a reviewer something else than what is
// there. Printable text in any script passes.
func (o Options) checkText() error {
	type field struct{ name, value string }
	fields := []field{
		{"main package", o.Main}, {"binary name", o.Name}, {"go version", o.GoVersion},
		{"platform", o.Platform}, {"base", string(o.Base)}, {"version", o.Version},
		{"version variable", o.VersionVar}, {"source URL", o.Source}, {"revision", o.Revision},
	}
	for _, f := range o.Ldflags {
		fields = append(fields, field{"ldflag", f})
	}
	for _, t := range o.Tags {
		fields = append(fields, field{"build tag", t})
	}
	keys := make([]string, 0, len(o.Labels))
	for k := range o.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fields = append(fields, field{"label key", k}, field{"label " + strconv.Quote(safetext.Line(k)), o.Labels[k]})
	}
	for _, f := range fields {
		if i := safetext.Index(f.value); i >= 0 {
			r, _ := utf8.DecodeRuneInString(f.value[i:])
			what := fmt.Sprintf("control or invisible character %U", r)
			if r == utf8.RuneError {
				what = fmt.Sprintf("byte %#x that is not UTF-8", f.value[i])
			}
			return fmt.Errorf("%s %q: %s at byte %d: remove it (recipe inputs reach the go build command line and the image's labels, where it would split arguments or hide text)", f.name, f.value, what, i)
		}
	}
	return nil
}

// ParseLabels parses key=value label arguments, as both executors take them.
func ParseLabels(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want key=value, e.g. org.opencontainers.image.vendor=Acme", kv)
		}
		out[k] = v
	}
	return out, nil
}

// Command is a process to run: argv and environment additions.
type Command struct {
	Args []string
	Env  []string
}

// Ldflags returns the linker flags: strip symbols and DWARF, then the version
// injection, then the user's own.
func (o Options) LdflagsString() string {
	flags := []string{"-s", "-w"}
	if o.Version != "" {
		flags = append(flags, "-X", o.VersionVar+"="+o.Version)
	}
	flags = append(flags, o.Ldflags...)
	return strings.Join(flags, " ")
}

// Compile returns the go build invocation that writes the binary to out:
// the package flags and environment of Packages, then the linker's.
func (o Options) Compile(out string) Command {
	pk := o.Packages()
	args := append([]string{"go", "build"}, pk.Args...)
	args = append(args, "-ldflags="+o.LdflagsString(), "-o", out, o.Main)
	return Command{Args: args, Env: pk.Env}
}

// Packages is how the recipe compiles packages, apart from how it links
// the binary: the go command's build flags (Args, without the command) and
// environment that decide each package's compiled output, and so its key
// in the build cache. -trimpath rewrites every file name the compiler
// records; -buildvcs=false keeps VCS stamping, which reads .git (different
// in every clone and CI checkout), out of the digest, the revision going
// into a label instead. A tool that loads the packages with types (the
// lint) given the same configuration reuses the export data the compile
// left in the build cache, instead of compiling the standard library and
// every dependency again under another one.
func (o Options) Packages() Command {
	p, _ := ParsePlatform(o.Platform)
	args := []string{"-trimpath", "-buildvcs=false"}
	if len(o.Tags) > 0 {
		args = append(args, "-tags="+strings.Join(o.Tags, ","))
	}
	env := []string{"CGO_ENABLED=0", "GOOS=" + p.OS, "GOARCH=" + p.Arch, "GOFLAGS=-mod=readonly"}
	if p.Arch == "arm" {
		env = append(env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	return Command{Args: args, Env: env}
}

// Tag is the tag an image tarball records for docker load: NAME:VERSION,
// or NAME:latest without a version.
func (o Options) Tag() string {
	v := o.Version
	if v == "" {
		v = "latest"
	}
	return o.Name + ":" + v
}

// BinaryPath is where the service binary lives in the image.
func (o Options) BinaryPath() string { return path.Join(BinDir, o.Name) }

// Created is the image creation time: SOURCE_DATE_EPOCH, so rebuilds agree.
func (o Options) Created() time.Time { return time.Unix(o.SourceDateEpoch, 0).UTC() }

// Config is what the final image's config must say.
type Config struct {
	User       string
	Entrypoint []string
	WorkingDir string
	Env        []string
	Labels     map[string]string
}

// ImageConfig returns the final stage's config.
func (o Options) ImageConfig() Config {
	labels := map[string]string{
		"org.opencontainers.image.title":   o.Name,
		"org.opencontainers.image.created": o.Created().Format(time.RFC3339),
		"dev.go-image.platform":            o.Platform,
		"dev.go-image.user":                User,
	}
	if o.Version != "" {
		labels["org.opencontainers.image.version"] = o.Version
	}
	if o.Source != "" {
		labels["org.opencontainers.image.source"] = o.Source
	}
	if o.Revision != "" {
		labels["org.opencontainers.image.revision"] = o.Revision
	}
	for k, v := range o.Labels {
		labels[k] = v
	}
	return Config{
		User:       User,
		Entrypoint: []string{o.BinaryPath()},
		WorkingDir: HomeDir,
		Labels:     labels,
	}
}

// File is one entry of the final stage that go-image adds on top of the base.
type File struct {
	Path string
	Mode int64 // permission bits; directories carry the dir bit via Dir
	Dir  bool
	UID  int
	GID  int
	Data []byte
}

// Passwd returns /etc/passwd for the final stage. existing is the base
// image's file ("" for scratch); the nonroot entry is appended to it.
func Passwd(existing string) (string, error) {
	base := existing
	if base == "" {
		base = "root:x:0:0:root:/root:/sbin/nologin\n"
	}
	return appendEntry(base, PasswdPath, UserName, fmt.Sprintf("%s:x:%d:%d:%s:%s:/sbin/nologin", UserName, UID, GID, UserName, HomeDir), 2, UID)
}

// Group returns /etc/group for the final stage, like Passwd.
func Group(existing string) (string, error) {
	base := existing
	if base == "" {
		base = "root:x:0:\n"
	}
	return appendEntry(base, GroupPath, UserName, fmt.Sprintf("%s:x:%d:", UserName, GID), 2, GID)
}

// appendEntry adds line unless an identical entry exists; an entry that
// claims the name or the ID for something else is an error, because the
// image would then run as a different account than the one checked.
func appendEntry(file, where, name, line string, idField, id int) (string, error) {
	for _, l := range strings.Split(file, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ":")
		if len(f) <= idField {
			continue
		}
		if l == line {
			return file, nil
		}
		if f[0] == name || f[idField] == strconv.Itoa(id) {
			return "", fmt.Errorf("%s: base image already has %q, which conflicts with %q: use a base without that entry", where, l, line)
		}
	}
	if !strings.HasSuffix(file, "\n") {
		file += "\n"
	}
	return file + line + "\n", nil
}

// Files returns the files go-image adds to the base, sorted by path, given
// the base's passwd and group ("" for scratch) and the binary's contents.
func (o Options) Files(basePasswd, baseGroup string, binary []byte) ([]File, error) {
	passwd, err := Passwd(basePasswd)
	if err != nil {
		return nil, err
	}
	group, err := Group(baseGroup)
	if err != nil {
		return nil, err
	}
	files := []File{
		{Path: "/etc", Mode: 0o755, Dir: true},
		{Path: PasswdPath, Mode: 0o644, Data: []byte(passwd)},
		{Path: GroupPath, Mode: 0o644, Data: []byte(group)},
		{Path: "/etc/ssl", Mode: 0o755, Dir: true},
		{Path: "/etc/ssl/certs", Mode: 0o755, Dir: true},
		{Path: CABundlePath, Mode: 0o644, Data: CABundle()},
		{Path: "/home", Mode: 0o755, Dir: true},
		{Path: HomeDir, Mode: 0o700, Dir: true, UID: UID, GID: GID},
		{Path: "/usr", Mode: 0o755, Dir: true},
		{Path: "/usr/local", Mode: 0o755, Dir: true},
		{Path: BinDir, Mode: 0o755, Dir: true},
		// Owned by root and not writable by the runtime user: a compromised
		// process cannot replace its own binary.
		{Path: o.BinaryPath(), Mode: 0o555, Data: binary},
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}
