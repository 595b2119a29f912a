package audit

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// notSecret lists the fields whose names look like secrets but hold none,
// each with the reason ("Type.Field": why).
var notSecret = map[string]string{
	"EnvSecret.EnvID":                   "the environment's id",
	"EnvSecret.Type":                    "server or client",
	"MeResponse.Token":                  "the access token's record (no value; Hash never encodes)",
	"SSOSettings.ForbidPassword":        "a switch (forbid password sessions in an organization)",
	"SSOSettingsRequest.ForbidPassword": "the same switch in a request",
	"SSOIssuerView.HasSecret":           "whether a client secret is set, not the secret",
}

var secretName = regexp.MustCompile(`(?i)secret|token|passw|hash|apikey|credential`)

// TestSecurityEverySecretFieldIsRedacted reads every struct type of the
// packages whose values reach audit entries and webhook payloads (store
// models, API request/response types, codec) and fails on a field whose name
// looks like a secret unless it never encodes (json:"-"), its JSON key is in
// SecretKeys (Redact removes it), or notSecret says why it is harmless. A
// new secret field therefore cannot slip past Redact unnoticed.
func TestSecurityEverySecretFieldIsRedacted(t *testing.T) {
	dirs := []string{"../store", "../api", "../../../codec"}
	seen := 0
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "_gen.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(af, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok {
					return true
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					return true
				}
				for _, fl := range st.Fields.List {
					for _, name := range fl.Names {
						seen++
						key := ts.Name.Name + "." + name.Name
						if !name.IsExported() {
							continue
						}
						jsonName := name.Name
						if fl.Tag != nil {
							tag := reflect.StructTag(strings.Trim(fl.Tag.Value, "`")).Get("json")
							if tag == "-" {
								continue
							}
							if n, _, _ := strings.Cut(tag, ","); n != "" {
								jsonName = n
							}
						}
						if !secretName.MatchString(name.Name) && !secretName.MatchString(jsonName) {
							continue
						}
						if _, ok := notSecret[key]; ok {
							continue
						}
						if !isSecretKey(jsonName) {
							t.Errorf("%s (%s, JSON %q) looks like a secret: add %q to SecretKeys, tag it json:\"-\", or explain it in notSecret", key, f, jsonName, jsonName)
						}
					}
				}
				return true
			})
		}
	}
	if seen < 100 {
		t.Fatalf("read only %d fields; the package paths moved?", seen)
	}
}

// TestSecurityRedactRemovesSecrets: the shapes that carried secrets before
// (a created webhook, a created trigger with its URL, an environment with
// its SDK secrets, a user with a password hash) come out without them.
func TestSecurityRedactRemovesSecrets(t *testing.T) {
	type env struct {
		ID      string `json:"id"`
		Secrets []struct {
			Value string `json:"value"`
		} `json:"secrets"`
	}
	in := []any{
		map[string]any{"id": "w", "secret": "whsec_0123456789abcdef0123", "name": "n"},
		struct {
			ID    string `json:"id"`
			Token string `json:"token"`
			URL   string `json:"url"`
		}{"t", "syr_abcdefghijklmnopqrstuvwxyz", "/api/v1/triggers/run/syr_abcdefghijklmnopqrstuvwxyz"},
		env{ID: "e", Secrets: []struct {
			Value string `json:"value"`
		}{{"FeatBitStyleSecretValue0123456789abcdefgh"}}},
		map[string]any{"user": map[string]any{"PasswordHash": "$2a$04$abc", "email": "a@b"}},
		"comment: run it with syt_ABCDEFGHIJKLMNOPQRSTUVWXYZ please",
	}
	for _, v := range in {
		out := Redact(v)
		b, _ := jsonMarshal(out)
		for _, leak := range []string{"whsec_0123", "syr_abcdefghij", "FeatBitStyle", "$2a$04", "syt_ABCDEFGH"} {
			if strings.Contains(string(b), leak) {
				t.Errorf("Redact(%v) = %s: leaks %s", v, b, leak)
			}
		}
	}
	if got := Redact(map[string]any{"name": "keep"}); !reflect.DeepEqual(got, map[string]any{"name": "keep"}) {
		t.Errorf("Redact changed a harmless value: %v", got)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
