package buildcache

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"syscall"

	"dagger/go-image/internal/cacheprog"
	"dagger/go-image/internal/safetext"
)

// Usage is the cache program's synopsis.
const Usage = `go-image cacheprog: a GOCACHEPROG program (the go command starts it; not for people)

  GOCACHEPROG="go-image cacheprog --repository REGISTRY/REPO[:TAG] [--key-env NAME] [--username U --password-env NAME] [--insecure] [--dir DIR]"

Keeps the go command's build cache in DIR (default: go-image-cache inside GOCACHE) and shares it
through the registry. Secrets are passed by the NAME of an environment variable, never in argv.
`

// UsageError marks bad flags (exit status 2).
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Main runs the cache program on stdin and stdout for the go command that
// started it: `go-image cacheprog` in the CLI, and the Dagger module's
// binary in the builder container. Warnings go to stderr; the error is for
// the caller to print (flag.ErrHelp after -h).
//
// With --connect it relays to a Cache.Serve in the go-image process that
// started the build; if that is gone it serves the local directory itself
// (with a warning) rather than fail the build. With --repository it is the
// whole cache: registry credentials and key from the environment.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("go-image cacheprog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "Usage of %s:\n%s", fs.Name(), Usage); fs.PrintDefaults() }
	connect := fs.String("connect", "", "unix socket of the go-image process serving the cache (set by go-image)")
	repo := fs.String("repository", "", "REGISTRY/REPO[:TAG] holding the shared cache (tag default "+DefaultTag+"); none: local only")
	keyEnv := fs.String("key-env", DefaultKeyEnv, "NAME of the environment variable holding the index MAC key (at least 16 bytes)")
	username := fs.String("username", "", "registry username (default: the docker config / credential helpers)")
	passwordEnv := fs.String("password-env", "", "NAME of the environment variable holding the registry password or token")
	insecure := fs.Bool("insecure", false, "allow plain HTTP and unverified TLS to the registry")
	dir := fs.String("dir", "", "local cache directory (default: go-image-cache inside GOCACHE)")
	statsFile := fs.String("stats", "", "write the counts (JSON) to this file at the end")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return UsageError{err}
	}
	if fs.NArg() > 0 {
		return UsageError{fmt.Errorf("unexpected argument %q: every input is a flag", fs.Arg(0))}
	}
	if *connect != "" {
		err := cacheprog.Proxy(ctx, *connect, stdin, stdout)
		if !errors.Is(err, cacheprog.ErrUnreachable) {
			return err
		}
		fmt.Fprintf(stderr, "go-image: build cache: %s: serving the local cache only\n", safetext.Line(err.Error()))
		*repo = ""
	}
	o := Options{Dir: *dir, Log: stderr}
	if *repo != "" {
		r, err := RemoteFromEnv(*repo, *keyEnv, *username, *passwordEnv, *insecure)
		if err != nil {
			return UsageError{err}
		}
		o.Remote = r
	}
	c, err := Open(ctx, o)
	if err != nil {
		return err
	}
	var stats Stats
	// Close flushes under ctx: after SIGTERM or Ctrl-C the uploads are
	// abandoned, since the go command waits for "close" to be answered
	// and the build was told to stop (the CLI's Close does the same).
	err = cacheprog.Serve(ctx, stdin, stdout, c, func() { stats = c.Close(ctx) })
	if *statsFile != "" {
		b, _ := json.Marshal(stats)
		if werr := os.WriteFile(*statsFile, b, 0o644); werr != nil && err == nil {
			err = fmt.Errorf("write %s: %w", *statsFile, werr)
		}
	}
	return err
}

// RemoteFromEnv builds the registry half from flags that name environment
// variables: the key from keyEnv, the password from passwordEnv. The
// values never pass through argv, and errors name the variables only.
func RemoteFromEnv(ref, keyEnv, username, passwordEnv string, insecure bool) (*Remote, error) {
	if _, err := ParseRef(ref, insecure); err != nil {
		return nil, err
	}
	key, err := secretFromEnv("key", keyEnv)
	if err != nil {
		return nil, fmt.Errorf("build cache %s: %w: the key authenticates the cache's index, so that nobody without it can point a build at other objects; generate one with `openssl rand -hex 32` and keep it as a CI secret", ref, err)
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("build cache %s: %s holds %d bytes, want at least %d: generate a key with `openssl rand -hex 32`", ref, shownName(keyEnv), len(key), MinKeyLen)
	}
	r := &Remote{Ref: ref, Key: []byte(key), Insecure: insecure}
	switch {
	case username == "" && passwordEnv == "":
	case username == "":
		return nil, fmt.Errorf("build cache %s: a password variable without a username: registries need both", ref)
	case passwordEnv == "":
		return nil, fmt.Errorf("build cache %s: username %q without a password variable: name the environment variable holding the password", ref, username)
	default:
		pw, err := secretFromEnv("password", passwordEnv)
		if err != nil {
			return nil, fmt.Errorf("build cache %s: %w, or drop the username to use the docker config", ref, err)
		}
		r.Username, r.Password, r.PasswordFrom = username, pw, shownName(passwordEnv)
	}
	return r, nil
}

func secretFromEnv(what, env string) (string, error) {
	if !envName.MatchString(env) {
		// Not echoed: a value passed by mistake is the secret itself.
		return "", fmt.Errorf("the %s variable: give the NAME of an environment variable (letters, digits and _, e.g. CACHE_KEY), not its value or $NAME", what)
	}
	v, ok := os.LookupEnv(env)
	if !ok || v == "" {
		return "", fmt.Errorf("the %s variable %s is unset or empty: export it", what, shownName(env))
	}
	return v, nil
}

var (
	envName         = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	conventionalEnv = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

// shownName is how a variable's name appears in a message: a conventional
// name (CACHE_KEY) as it is; anything else might be a secret typed where
// its name belonged, and is not repeated.
func shownName(env string) string {
	if conventionalEnv.MatchString(env) {
		return "$" + env
	}
	return "(the name given)"
}

// ModeArg, as the first argument, makes a binary that calls RunIfMode the
// cache program: the Dagger module's own binary, copied into the builder
// container, where the module's main (which talks to Dagger) must not run.
const ModeArg = "go-image-cacheprog"

// RunIfMode runs Main and exits when os.Args[1] is ModeArg, and returns
// otherwise. Call it from an init of the main package.
func RunIfMode() {
	if len(os.Args) < 2 || os.Args[1] != ModeArg {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Main(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(UsageError)):
		fmt.Fprintln(os.Stderr, "go-image cacheprog:", safetext.Block(err.Error()))
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "go-image cacheprog:", safetext.Block(err.Error()))
	os.Exit(1)
}

// ModuleLine is ModuleCommand as the GOCACHEPROG value, or an error
// naming the argument GOCACHEPROG cannot carry: the username is the
// caller's, and a line that did not quote it left GOCACHEPROG empty, the
// cache silently off.
func ModuleLine(prog, repository, username, passwordEnv string, insecure bool) (string, error) {
	line, err := JoinArgs(ModuleCommand(prog, repository, username, passwordEnv, insecure))
	if err != nil {
		return "", fmt.Errorf("build cache %s: %w: the go command splits GOCACHEPROG on spaces and reads one kind of quote per argument; use a username (or a robot account) without both ' and \"", repository, err)
	}
	return line, nil
}

// ModuleCommand is GOCACHEPROG's command line for prog, the Dagger module's
// own binary (RunIfMode in its main package), the secrets named by the
// environment variables DefaultKeyEnv and passwordEnv. The module's
// generated Dagger client panics at init without a session, which the cache
// program never opens: env gives it placeholders.
func ModuleCommand(prog, repository, username, passwordEnv string, insecure bool) []string {
	args := []string{"env", "DAGGER_SESSION_PORT=0", "DAGGER_SESSION_TOKEN=unused-by-the-cache-program",
		prog, ModeArg, "--repository", repository, "--key-env", DefaultKeyEnv}
	if username != "" {
		args = append(args, "--username", username, "--password-env", passwordEnv)
	}
	if insecure {
		args = append(args, "--insecure")
	}
	return args
}
