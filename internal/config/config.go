// Package config reads a binary's settings, the same way in every Switchyard
// main: each setting has a flag name (-redis-addr), an environment variable
// (SY_EDGE_REDIS_ADDR) and a default, and may also be given in an optional
// configuration file (-config FILE, or the <prefix>CONFIG variable). A flag on
// the command line wins over the variable, which wins over the file, which
// wins over the default; an empty variable counts as unset.
//
// The file holds one "name = value" line per setting, names as the flags are
// spelled without the dash; blank lines and lines starting with '#' are
// ignored; a value may be double-quoted (Go syntax) to keep surrounding
// spaces. A name the binary does not know, a name given twice or a line
// without '=' is an error naming the file, the line and the name.
//
// -h (or -help) prints every setting with its variable and default; the
// loaders return flag.ErrHelp and every main exits 0 on it (ExitCode).
//
// A Set is used by one goroutine, once: declare the settings, then Parse.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaxFileBytes bounds the configuration file read by Parse.
const MaxFileBytes = 1 << 20

// ErrHelp is returned by Parse when -h or -help was given (the usage has been
// printed). It is flag.ErrHelp.
var ErrHelp = flag.ErrHelp

// ExitCode is the exit status of a main whose configuration loader returned
// err: 0 for nil and for -h, 2 for any other configuration error.
func ExitCode(err error) int {
	if err == nil || errors.Is(err, ErrHelp) {
		return 0
	}
	return 2
}

// Set is the settings of one binary (or subcommand).
type Set struct {
	prog, prefix, usage string
	list                []*Setting
	byName              map[string]*Setting // canonical names and aliases
	args                []string
	file                string
}

// Setting is one setting. Name, Env, Default and Help are what -h prints.
type Setting struct {
	Name    string
	Env     string
	Default string
	Help    string
	// Aliases are older flag names still accepted (also as file keys, and
	// as <prefix><ALIAS> variables).
	Aliases []string

	set      func(string) error
	isBool   bool
	envAlias []string
	from     string // where the value came from: "flag", "env", "file", "default"
}

// New starts the settings of the binary prog whose variables are
// envPrefix + the upper-cased name with '-' as '_' (envPrefix "SY_EDGE_":
// -redis-addr is SY_EDGE_REDIS_ADDR). It declares -config, whose variable
// is envPrefix + "CONFIG".
func New(prog, envPrefix string) *Set {
	s := &Set{prog: prog, prefix: envPrefix, byName: map[string]*Setting{}}
	s.Var("config", "", "configuration file of name = value lines (a flag or variable wins over it)", func(v string) error {
		s.file = v
		return nil
	})
	return s
}

// SetUsage sets the first line of -h ("usage: edge [flags]" by default).
func (s *Set) SetUsage(line string) { s.usage = line }

// Var declares a setting of any type: set parses the text of the winning
// source (the default included) and stores it.
func (s *Set) Var(name, def, help string, set func(string) error) *Setting {
	if _, dup := s.byName[name]; dup || name == "" || strings.HasPrefix(name, "-") {
		panic("config: bad or duplicate setting name " + strconv.Quote(name))
	}
	st := &Setting{Name: name, Env: s.prefix + envName(name), Default: def, Help: help, set: set}
	s.list = append(s.list, st)
	s.byName[name] = st
	return st
}

// String declares a text setting.
func (s *Set) String(p *string, name, def, help string) *Setting {
	return s.Var(name, def, help, func(v string) error { *p = v; return nil })
}

// Int declares an integer setting.
func (s *Set) Int(p *int, name string, def int, help string) *Setting {
	return s.Var(name, strconv.Itoa(def), help, func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		*p = n
		return nil
	})
}

// Int64 declares a 64-bit integer setting.
func (s *Set) Int64(p *int64, name string, def int64, help string) *Setting {
	return s.Var(name, strconv.FormatInt(def, 10), help, func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		*p = n
		return nil
	})
}

// Float declares a number setting.
func (s *Set) Float(p *float64, name string, def float64, help string) *Setting {
	return s.Var(name, strconv.FormatFloat(def, 'g', -1, 64), help, func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", v)
		}
		*p = f
		return nil
	})
}

// Duration declares a duration setting (Go syntax: 300ms, 10s, 5m, 1h30m).
func (s *Set) Duration(p *time.Duration, name string, def time.Duration, help string) *Setting {
	return s.Var(name, FormatDuration(def), help, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 10s or 5m, got %q", v)
		}
		*p = d
		return nil
	})
}

// Bool declares a switch: "-name" alone means true; values are those of
// strconv.ParseBool (true, false, 1, 0, …).
func (s *Set) Bool(p *bool, name string, def bool, help string) *Setting {
	st := s.Var(name, strconv.FormatBool(def), help, func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*p = b
		return nil
	})
	st.isBool = true
	return st
}

// List declares a comma-separated list; spaces around items and empty items
// are dropped (so "" is an empty list).
func (s *Set) List(p *[]string, name, def, help string) *Setting {
	return s.Var(name, def, help, func(v string) error {
		*p = SplitList(v)
		return nil
	})
}

// SplitList splits a comma-separated list, trimming spaces and dropping empty
// items.
func SplitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Alias adds older names of the setting (see Setting.Aliases).
func (st *Setting) Alias(names ...string) *Setting {
	st.Aliases = append(st.Aliases, names...)
	return st
}

// EnvVar replaces the setting's variable (for a binary whose variables do not
// share one prefix, such as the all-in-one); older names may follow.
func (st *Setting) EnvVar(name string, older ...string) *Setting {
	st.Env = name
	st.envAlias = append(st.envAlias, older...)
	return st
}

// From reports where the setting's value came from after Parse: "flag",
// "env", "file" or "default".
func (st *Setting) From() string { return st.from }

// Lookup returns the setting called name (or one of its aliases), or nil.
func (s *Set) Lookup(name string) *Setting { return s.byName[name] }

// Settings returns the declared settings in declaration order.
func (s *Set) Settings() []*Setting { return s.list }

// Args returns the arguments left after the flags (Parse).
func (s *Set) Args() []string { return s.args }

// Parse reads args (without the program name), the variables (getenv,
// usually os.Getenv) and the configuration file, and sets every setting from
// the source that wins. On -h it prints the usage to out and returns ErrHelp.
// Errors name the flag, the variable or the file line at fault.
func (s *Set) Parse(args []string, getenv func(string) string, out io.Writer) error {
	for _, st := range s.list {
		for _, a := range st.Aliases {
			if _, dup := s.byName[a]; dup {
				panic("config: alias " + strconv.Quote(a) + " names another setting")
			}
			s.byName[a] = st
		}
	}
	fs := flag.NewFlagSet(s.prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	given := map[*Setting]string{}
	for _, st := range s.list {
		v := &flagValue{st: st, given: given}
		fs.Var(v, st.Name, st.Help)
		for _, a := range st.Aliases {
			fs.Var(v, a, st.Help)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			s.Usage(out)
			return ErrHelp
		}
		return fmt.Errorf("%v (%s -h lists the settings)", err, s.prog)
	}
	s.args = fs.Args()
	cfgSetting := s.list[0]
	var errs []string
	value := func(st *Setting) (string, string) {
		if v, ok := given[st]; ok {
			return v, "flag"
		}
		for _, name := range append([]string{st.Env}, st.envAlias...) {
			if v := getenv(name); v != "" {
				return v, "env"
			}
		}
		for _, a := range st.Aliases {
			if st.Env == s.prefix+envName(st.Name) {
				if v := getenv(s.prefix + envName(a)); v != "" {
					return v, "env"
				}
			}
		}
		return st.Default, "default"
	}
	file, _ := value(cfgSetting)
	s.file = file
	cfgSetting.from = "default"
	var fileVals map[*Setting]fileValue
	if file != "" {
		var err error
		if fileVals, err = s.readFile(file); err != nil {
			return err
		}
	}
	for _, st := range s.list {
		v, from := value(st)
		if fv, ok := fileVals[st]; ok && from == "default" {
			v, from = fv.value, "file"
		}
		st.from = from
		if err := st.set(v); err != nil {
			errs = append(errs, s.source(st, from, fileVals)+": "+err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// source names where a setting's value came from, for an error.
func (s *Set) source(st *Setting, from string, fileVals map[*Setting]fileValue) string {
	switch from {
	case "flag":
		return "-" + st.Name
	case "env":
		return st.Env + " (-" + st.Name + ")"
	case "file":
		return fmt.Sprintf("%s:%d: %s", s.file, fileVals[st].line, st.Name)
	}
	return "-" + st.Name + " default"
}

type fileValue struct {
	value string
	line  int
}

// readFile reads and checks the configuration file.
func (s *Set) readFile(path string) (map[*Setting]fileValue, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("-config: %w", err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("-config: %s is larger than %d bytes", path, MaxFileBytes)
	}
	kv, err := ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	out := map[*Setting]fileValue{}
	for _, e := range kv {
		st := s.byName[e.Name]
		if st == nil || st == s.list[0] {
			return nil, fmt.Errorf("%s:%d: unknown setting %q (%s -h lists the settings)", path, e.Line, e.Name, s.prog)
		}
		if prev, dup := out[st]; dup {
			return nil, fmt.Errorf("%s:%d: %s given twice (also on line %d)", path, e.Line, e.Name, prev.line)
		}
		out[st] = fileValue{e.Value, e.Line}
	}
	return out, nil
}

// Entry is one "name = value" line of a configuration file.
type Entry struct {
	Name, Value string
	Line        int
}

// ParseFile parses the configuration file format (see the package doc). An
// error starts with the line number ("3: …").
func ParseFile(b []byte) ([]Entry, error) {
	text := string(b)
	var out []Entry
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%d: want name = value, got %q", n, clip(line))
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !validName(name) {
			return nil, fmt.Errorf("%d: bad setting name %q", n, clip(name))
		}
		if strings.HasPrefix(value, `"`) {
			u, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("%d: %s: bad quoted value", n, name)
			}
			value = u
		}
		out = append(out, Entry{Name: name, Value: value, Line: n})
	}
	return out, nil
}

func validName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// Usage prints every setting: flag, variable, default and help.
func (s *Set) Usage(w io.Writer) {
	line := s.usage
	if line == "" {
		line = "usage: " + s.prog + " [flags]"
	}
	fmt.Fprintf(w, "%s\n\nEvery setting is a flag, an environment variable or a line of the -config file;\n"+
		"a flag wins over its variable, which wins over the file, which wins over the default.\n\n", line)
	for _, st := range s.list {
		def := st.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  -%s  %s  (default %s)\n", st.Name, st.Env, def)
		fmt.Fprintf(w, "      %s\n", st.Help)
		if len(st.Aliases) > 0 {
			al := append([]string(nil), st.Aliases...)
			sort.Strings(al)
			fmt.Fprintf(w, "      also accepted: -%s\n", strings.Join(al, ", -"))
		}
	}
}

// FormatDuration prints d without zero units (5m, not 5m0s; 0 for zero).
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// envName is name upper-cased with '-' as '_'.
func envName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// flagValue routes the flag package's parsing to a Setting: it records the
// text given on the command line (parsed later, with the other sources).
type flagValue struct {
	st    *Setting
	given map[*Setting]string
}

func (f *flagValue) String() string {
	if f == nil || f.st == nil {
		return ""
	}
	return f.st.Default
}

func (f *flagValue) Set(v string) error {
	f.given[f.st] = v
	return nil
}

func (f *flagValue) IsBoolFlag() bool { return f != nil && f.st != nil && f.st.isBool }

// UnknownVariables returns the variables of environ ("NAME=value", as
// os.Environ gives them) that start with the set's prefix but name no
// setting: a misspelt variable would otherwise be ignored without a word.
// Mains print them as warnings; a binary whose prefix other programs share
// (the all-in-one's "SY_") does not ask.
func (s *Set) UnknownVariables(environ []string) []string {
	known := map[string]bool{}
	for _, st := range s.list {
		known[st.Env] = true
		for _, e := range st.envAlias {
			known[e] = true
		}
		for _, a := range st.Aliases {
			known[s.prefix+envName(a)] = true
		}
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, s.prefix) && !known[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// WarnUnknown writes one warning line to w for each of UnknownVariables.
func (s *Set) WarnUnknown(environ []string, w io.Writer) {
	for _, v := range s.UnknownVariables(environ) {
		fmt.Fprintf(w, "%s: warning: %s is not a setting of %s (%s -h lists them); ignored\n", s.prog, v, s.prog, s.prog)
	}
}
