package featbit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	settings "github.com/switchyard/switchyard/internal/config"
)

// Options are the settings of the `import featbit` subcommands of both
// mains (flag, or SY_IMPORT_* variable, or a line of the SY_IMPORT_CONFIG
// file; internal/config).
type Options struct {
	File   string // -file / SY_IMPORT_FILE: the export; "-" reads stdin
	EnvID  string // -env / SY_IMPORT_ENV: the Switchyard environment id
	DryRun bool   // -dry-run / SY_IMPORT_DRY_RUN=true
	Limits Limits // -max-bytes, -max-flags, -max-segments / SY_IMPORT_MAX_*
}

// importFlags are the flags ParseOptions takes out of a command line;
// switches take no value.
var importFlags = map[string]bool{"file": false, "env": false, "dry-run": true,
	"max-bytes": false, "max-flags": false, "max-segments": false}

// ParseOptions takes the import's own flags out of args and returns them
// with the remaining arguments (the main's store flags, in order). prog
// names the command in usage output, written to out.
func ParseOptions(prog string, args []string, getenv func(string) string, out io.Writer) (Options, []string, error) {
	var mine, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		sw, ok := importFlags[name]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" || !ok {
			rest = append(rest, a)
			continue
		}
		mine = append(mine, a)
		if !sw && !hasVal && i+1 < len(args) {
			i++
			mine = append(mine, args[i])
		}
	}
	var o Options
	fs := settings.New(prog, "SY_IMPORT_")
	fs.String(&o.File, "file", "", `FeatBit export to import: the server SDK data-sync JSON (GET /api/public/sdk/server/latest-all) or {"featureFlags","segments"}; "-" reads stdin`)
	fs.String(&o.EnvID, "env", "", "id of the Switchyard environment to import into")
	fs.Bool(&o.DryRun, "dry-run", false, "print what would be created or updated, write nothing")
	fs.Int64(&o.Limits.MaxBytes, "max-bytes", DefaultLimits.MaxBytes, "largest export file read, in bytes")
	fs.Int(&o.Limits.MaxFlags, "max-flags", DefaultLimits.MaxFlags, "most flags in one export")
	fs.Int(&o.Limits.MaxSegments, "max-segments", DefaultLimits.MaxSegments, "most segments in one export")
	fs.SetUsage("usage: " + prog + " -env ENV_ID -file EXPORT.json [-dry-run] [limits] [the store's flags, listed by the command's -h]")
	for _, a := range rest {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.Usage(out)
			return o, nil, settings.ErrHelp
		}
	}
	if err := fs.Parse(mine, getenv, out); err != nil {
		return o, nil, err
	}
	switch {
	case o.File == "":
		return o, nil, errors.New("-file: the FeatBit export to import is required")
	case o.EnvID == "":
		return o, nil, errors.New("-env: the id of the environment to import into is required")
	case o.Limits.MaxBytes <= 0 || o.Limits.MaxFlags <= 0 || o.Limits.MaxSegments <= 0:
		return o, nil, errors.New("-max-bytes, -max-flags and -max-segments must be positive")
	}
	return o, rest, nil
}

// Open opens o.File ("-": stdin, which the caller must not close).
func (o Options) Open() (io.ReadCloser, error) {
	if o.File == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	f, err := os.Open(o.File)
	if err != nil {
		return nil, fmt.Errorf("-file: %w", err)
	}
	return f, nil
}
