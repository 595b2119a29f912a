package featbit_test

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control/internal/featbit"
)

// TestParseOptions: the import's flags are taken out of the command line
// wherever they stand, the main's own flags stay in order, SY_IMPORT_*
// variables are the defaults, and bad values name the flag.
func TestParseOptions(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	o, rest, err := featbit.ParseOptions("x", []string{"-data", "d", "-file", "f.json", "--mongo-uri=m", "-dry-run", "-env=e1", "-max-flags", "5", "-print-secrets"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.File != "f.json" || o.EnvID != "e1" || !o.DryRun || o.Limits.MaxFlags != 5 || o.Limits.MaxSegments != featbit.DefaultLimits.MaxSegments || o.Limits.MaxBytes != featbit.DefaultLimits.MaxBytes {
		t.Fatalf("options %+v", o)
	}
	if want := []string{"-data", "d", "--mongo-uri=m", "-print-secrets"}; !slices.Equal(rest, want) {
		t.Fatalf("rest %q, want %q", rest, want)
	}
	env = map[string]string{"SY_IMPORT_FILE": "-", "SY_IMPORT_ENV": "e2", "SY_IMPORT_DRY_RUN": "true", "SY_IMPORT_MAX_BYTES": "1000"}
	o, rest, err = featbit.ParseOptions("x", nil, getenv, io.Discard)
	if err != nil || o.File != "-" || o.EnvID != "e2" || !o.DryRun || o.Limits.MaxBytes != 1000 || len(rest) != 0 {
		t.Fatalf("from the environment: %+v %q %v", o, rest, err)
	}
	o, _, err = featbit.ParseOptions("x", []string{"-env", "e3", "-dry-run=false"}, getenv, io.Discard)
	if err != nil || o.EnvID != "e3" || o.DryRun {
		t.Fatalf("flags over the environment: %+v %v", o, err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-env", "e"}, nil, "-file"},
		{[]string{"-file", "f"}, nil, "-env"},
		{[]string{"-file", "f", "-env", "e", "-max-bytes", "0"}, nil, "must be positive"},
		{[]string{"-file", "f", "-env", "e"}, map[string]string{"SY_IMPORT_MAX_SEGMENTS": "many"}, `SY_IMPORT_MAX_SEGMENTS (-max-segments): want an integer, got "many"`},
		{[]string{"-file", "f", "-env", "e", "-max-flags", "x"}, nil, `-max-flags: want an integer, got "x"`},
	} {
		env = c.env
		if _, _, err := featbit.ParseOptions("x", c.args, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: err %v, want %q", c.args, c.env, err, c.want)
		}
	}
}

// TestParseOptionsHelp: -h prints the import's settings and returns
// ErrHelp (the mains exit 0 on it), before the required -file and -env are
// checked.
func TestParseOptionsHelp(t *testing.T) {
	var out strings.Builder
	_, _, err := featbit.ParseOptions("x import featbit", []string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "SY_IMPORT_FILE") || !strings.Contains(out.String(), "SY_IMPORT_MAX_SEGMENTS") {
		t.Fatalf("%v\n%s", err, out.String())
	}
}
