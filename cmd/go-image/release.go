package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"dagger/go-image/internal/attest"
	"dagger/go-image/internal/choices"
	"dagger/go-image/internal/local"
	"dagger/go-image/internal/plan"
	"dagger/go-image/internal/preflight"
	"dagger/go-image/internal/push"
	"dagger/go-image/internal/recipe"
	"dagger/go-image/internal/release"
	"dagger/go-image/internal/report"
	"dagger/go-image/internal/sbom"
)

func runRelease(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("release", stderr)
	var c choices.Choices
	b := newBinder(fs, &c)
	src := fs.String("source", ".", "Go module root of the service (the directory with go.mod)")
	var addrs listFlag
	fs.Var(&addrs, "address", "REGISTRY/REPO:TAG to push to (repeatable; required); with several binaries REGISTRY/REPO/{name}:TAG, or one NAME=REGISTRY/REPO:TAG per binary; tags are written only after every address holds every image")
	platforms := fs.String("platform", recipe.DefaultPlatform, "comma-separated target platforms, e.g. linux/amd64,linux/arm64 (several: an OCI image index)")
	b.on(&c.Recipe.Platforms, "platform", func() error { c.Recipe.Platforms = strings.Split(*platforms, ","); return nil })
	addGateFlags(b, "size gate: compressed size budget (registry size): B, kB, MB, GB (decimal) or KiB, MiB, GiB", "UPX gate: deny (fail), warn (pass with a warning) or allow")
	username := fs.String("username", "", "registry username (default: the docker config / credential helpers)")
	passwordEnv := fs.String("password-env", "", "NAME of the environment variable holding the registry password or token (never the value itself)")
	insecure := fs.Bool("insecure", false, "allow plain HTTP and unverified TLS to the registry")
	sbomFile := fs.String("sbom", "", "write the SBOM (JSON, see --sbom-format) to this file (one binary only)")
	sbomFormat := fs.String("sbom-format", string(sbom.DefaultFormat), "SBOM format: spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.5 JSON)")
	attach := fs.Bool("attach-sbom", false, "push the SBOM as an OCI referrer of the image (artifactType application/spdx+json or application/vnd.cyclonedx+json); with --sign-key it is attached as a signed attestation instead")
	sf2 := addSignFlags(fs)
	reportFile := fs.String("report", "", "write the gate report to this file (it is always printed to stderr); with several binaries, every report and the summary table")
	format := fs.String("format", "text", "--report format: text, json or markdown")
	pf := addPlanFlags(fs)
	addRecipeFlags(b)
	cf := addBuildCacheFlags(fs)
	tf := addTimingsFlag(fs)
	// Every gate is on by default; switching one off takes a reason, which
	// the report shows as that gate's skipped result.
	addOffFlag(b, "scan", "switch the vulnerability gate off, with the REASON recorded in the report (default: on; needs trivy and its DB, see go-image scan -h)")
	addOffFlag(b, "lint", "switch the lint gate (Kubernetes analyzers over --source) off, with the REASON recorded in the report")
	addOffFlag(b, "smoke", "switch the smoke gate (run the image, check probes and SIGTERM) off, with the REASON recorded in the report")
	sf := addScanFlags(b)
	mf := addSmokeGateFlags(b)
	addLintFlags(b)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := b.apply(); err != nil {
		return err
	}
	if len(addrs) == 0 {
		return usageError{errors.New("--address is required: where to push, e.g. --address ghcr.io/acme/api:1.2.3 (several binaries: ghcr.io/acme/{name}:1.2.3)")}
	}
	if err := release.CheckAddresses(addrs, *insecure); err != nil {
		return usageError{err}
	}
	if err := report.CheckFormat("--format", *format); err != nil {
		return usageError{err}
	}
	sbomFmt, err := sbom.ParseFormat(*sbomFormat)
	if err != nil {
		return usageError{err}
	}
	creds, err := credentials(*username, *passwordEnv)
	if err != nil {
		return usageError{err}
	}
	// Every choice, the same way and in the same place as the module's.
	if err := b.validate(); err != nil {
		return err
	}
	ctx, printTimings := tf.start(ctx, stderr)
	defer printTimings()
	// Pre-flight, after the usage errors and before the build: everything
	// that would otherwise fail only after minutes of compiling, or after
	// the push.
	key, err := sf2.key()
	if err != nil {
		return err
	}
	for flag, path := range map[string]string{"--sbom": *sbomFile, "--report": *reportFile} {
		if err := preflight.Writable(flag, path); err != nil {
			return err
		}
	}
	cfg, bins, err := pf.plan(ctx, *src, b)
	if err != nil {
		return err
	}
	names := plan.Names(bins)
	byName, err := release.Addresses(addrs, names)
	if err != nil {
		return usageError{fmt.Errorf("--address: %w", err)}
	}
	for _, n := range names {
		if _, err := push.ParseAddresses(byName[n], *insecure); err != nil {
			return usageError{err}
		}
	}
	if *sbomFile != "" && len(bins) > 1 {
		return usageError{fmt.Errorf("--sbom FILE writes one SBOM, but this release builds %d binaries (%s): attach them with --attach-sbom or --sign-key instead", len(bins), strings.Join(names, ", "))}
	}
	runners, err := releaseRunners(bins, *src, sf, mf)
	if err != nil {
		return b.named(err)
	}
	cache, err := cf.open(ctx, stderr)
	if err != nil {
		return err
	}
	if cache != nil {
		defer cache.Close(ctx)
	}
	started := time.Now()
	// Every image is built before any gate runs (local.BuildMany: as few
	// go builds as the recipes allow); a binary's Build hands its own out.
	var targets []local.Target
	var imgs []v1.Image
	var reqs []release.Named
	for _, bin := range bins {
		o, err := bin.Choices.Recipe.Options()
		if err != nil {
			return err
		}
		ps, err := bin.Choices.Recipe.PlatformList()
		if err != nil {
			return err
		}
		gs, err := bin.Choices.Gates.List(ctx, local.Files{Root: *src}, runners)
		if err != nil {
			return b.named(err)
		}
		first := len(targets)
		for _, p := range ps {
			po := o
			po.Platform = p.String()
			targets = append(targets, local.Target{Options: po, BaseRef: bin.Choices.Recipe.BaseImageRef()})
		}
		log := stderr
		if len(bins) > 1 {
			log = release.PrefixLog(stderr, "["+bin.Name+"] ")
		}
		var signing *release.Signing
		if key != nil {
			full, err := local.Options(*src, o)
			if err != nil {
				return err
			}
			// The local toolchain compiles, not a golang:<tag> image: the Go
			// that did is read from the binary into the dependencies.
			full.GoVersion = ""
			signing = &release.Signing{Key: key, Build: attest.Build{
				Recipe: full, BuilderID: attest.BuilderCLI, GoImageVersion: attest.GoImageVersion(),
				StartedOn: started, InvocationID: os.Getenv("GOIMAGE_INVOCATION_ID"), Config: provenance(cfg, *src),
			}}
		}
		reqs = append(reqs, release.Named{Name: bin.Name, Request: release.Request{
			Platforms: ps, Gates: gs, Addresses: byName[bin.Name], Push: push.Options{Credentials: creds, Insecure: *insecure, Log: log},
			SBOM: *sbomFile != "", AttachSBOM: *attach, SBOMFormat: sbomFmt, Sign: signing,
			Version: o.Version, Created: o.Created(), Log: log, Settings: bin.ReportSettings(),
			Build: func(_ context.Context, p recipe.Platform) (v1.Image, error) {
				for j, q := range ps {
					if q == p {
						return imgs[first+j], nil
					}
				}
				return nil, fmt.Errorf("no image built for %s (go-image bug)", p)
			},
		}})
	}
	if imgs, err = local.BuildMany(ctx, local.ManyRequest{Source: *src, Targets: targets, Jobs: pf.jobs, Log: stderr, Cache: goCache(cache)}); err != nil {
		return err
	}
	results, err := release.RunAll(ctx, reqs, pf.jobs)
	// The report is shown whether the release passed or was blocked: a
	// blocked release must say what to fix.
	if werr := writeReleaseReports(stderr, names, results, "text", true); werr != nil {
		return werr
	}
	if *reportFile != "" && reached(results) {
		if werr := writeFile(*reportFile, func(w io.Writer) error { return writeReleaseReports(w, names, results, *format, false) }); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if *sbomFile != "" {
		if err := os.WriteFile(*sbomFile, results[0].SBOM, 0o644); err != nil {
			return fmt.Errorf("write SBOM %s: %w", *sbomFile, err)
		}
		fmt.Fprintf(stderr, "go-image: wrote SBOM %s\n", *sbomFile)
	}
	for _, res := range results {
		if err := res.WriteEpilogue(stderr, "go-image verify"); err != nil {
			return err
		}
	}
	for _, res := range results {
		fmt.Fprintln(stdout, res.Pushed.Ref())
	}
	return nil
}

// reached says whether any release reached its gates.
func reached(results []*release.Result) bool {
	for _, r := range results {
		if r != nil && r.Report != nil && len(r.Report.Results) > 0 {
			return true
		}
	}
	return false
}

// writeReleaseReports writes the report of a release of one binary, as
// it always was, or of several: every report and the summary table.
// log leaves out a release that stopped before its gates (its error says
// why).
func writeReleaseReports(w io.Writer, names []string, results []*release.Result, format string, log bool) error {
	if len(results) == 1 {
		if log {
			return results[0].WriteReport(w)
		}
		return results[0].Report.Write(w, format)
	}
	if !reached(results) {
		return nil
	}
	return release.Images(names, results).Write(w, format)
}

// releaseRunners are the local runners of the gates some binary runs:
// a gate that cannot be set up (no trivy) stops the release before the
// build, since it could only block the push later.
func releaseRunners(bins []plan.Binary, src string, sf *scanRunnerFlags, mf *smokeRunnerFlags) (choices.Runners, error) {
	r := choices.Runners{Native: native}
	on := func(gate string) bool { return plan.On(bins, gate) }
	var err error
	if on("smoke") {
		if r.Smoke, err = mf.runner(); err != nil {
			return r, err
		}
	}
	if on("scan") {
		if r.Scan, err = sf.runner(false, "", nil); err != nil {
			return r, fmt.Errorf("scan gate: %w; or switch it off with --no-scan REASON", err)
		}
	}
	if on("lint") {
		dir, err := filepath.Abs(src)
		if err != nil {
			return r, err
		}
		// The lint judges the source once, for every binary: it loads the
		// packages as the first binary's first platform compiles them, so
		// that its type-checker reads the compile's export data.
		o, err := bins[0].Choices.Recipe.Options()
		if err != nil {
			return r, err
		}
		ps, err := bins[0].Choices.Recipe.PlatformList()
		if err != nil {
			return r, err
		}
		o.Platform = ps[0].String()
		r.Lint = localLinter(dir, o)
	}
	return plan.Shared(r), nil
}

// credentials reads the password from the named environment variable. The
// flag takes a name, not a value, so the secret is never in argv (ps, shell
// history, CI logs).
func credentials(username, passwordEnv string) (push.Credentials, error) {
	switch {
	case username == "" && passwordEnv == "":
		return push.Credentials{}, nil
	case username == "":
		return push.Credentials{}, fmt.Errorf("--password-env %s given without --username: registries need both (for a token, the username is often the account name or \"oauth2accesstoken\")", passwordEnv)
	case passwordEnv == "":
		return push.Credentials{}, fmt.Errorf("--username %s given without --password-env: name the environment variable holding the password, e.g. --password-env REGISTRY_TOKEN", username)
	case strings.ContainsAny(passwordEnv, "= $"):
		return push.Credentials{}, fmt.Errorf("--password-env takes the NAME of an environment variable (e.g. REGISTRY_TOKEN), not its value or $NAME")
	}
	pw, ok := os.LookupEnv(passwordEnv)
	if !ok || pw == "" {
		return push.Credentials{}, fmt.Errorf("--password-env %s: the environment variable is unset or empty: export it, or use the docker config instead of --username", passwordEnv)
	}
	return push.Credentials{Username: username, Password: pw, PasswordFrom: "$" + passwordEnv}, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
