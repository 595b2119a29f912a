package control

import (
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/control/internal/featbit"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

// The helpers below parse control's settings for mains outside control/
// (the all-in-one cmd/switchyard), which cannot import control/internal/....

// ImportOptions are the options of the `import featbit` subcommands.
type ImportOptions = featbit.Options

// ParseImportOptions takes the import's own flags (-file, -env, -dry-run,
// -max-bytes, -max-flags, -max-segments, or SY_IMPORT_* variables) out of
// args and returns them with the remaining arguments.
func ParseImportOptions(prog string, args []string, getenv func(string) string, out io.Writer) (ImportOptions, []string, error) {
	return featbit.ParseOptions(prog, args, getenv, out)
}

// ParseAllow parses a comma-separated list of CIDR prefixes (or addresses)
// that webhooks or OpenID issuers may reach besides public addresses
// (Config.WebhookAllow, Config.SSOAllow).
func ParseAllow(s string) ([]netip.Prefix, error) { return webhook.ParseAllow(s) }

// ParsePublicURL checks a public URL (Config.PublicURL): empty, or an
// absolute http(s) URL of a host without path (beyond "/"), query, fragment
// or credentials; it returns it without a trailing slash.
func ParsePublicURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || len(s) > 500 {
		return "", fmt.Errorf("want an absolute http:// or https:// URL without path, query or credentials, got %q", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}
