package enduser

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

func TestParseCSV(t *testing.T) {
	users, props, err := ParseCSV([]byte("\xef\xbb\xbfkeyId,name,country,plan\nu1,Ann,FR,pro\n\"u,2\", Bob ,,\"team\nb\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(props, ","); got != "country,plan" {
		t.Fatalf("props %q", got)
	}
	if len(users) != 2 {
		t.Fatalf("%d users", len(users))
	}
	u := users[0]
	if u.KeyID != "u1" || u.Name != "Ann" || len(u.Props) != 2 || u.Props[0].Name != "country" || u.Props[0].Value != "FR" || u.Props[1].Value != "pro" {
		t.Fatalf("user 1: %+v", u)
	}
	u = users[1] // quoted comma, trimmed name, empty value left out, quoted newline kept
	if u.KeyID != "u,2" || u.Name != "Bob" || len(u.Props) != 1 || u.Props[0].Name != "plan" || u.Props[0].Value != "team\nb" {
		t.Fatalf("user 2: %+v", u)
	}
}

// TestSecurityCSVImportRefusesOversizedAndMalformed: every limit and every
// malformed file is refused as a whole with a 400-class error on the field
// "csv" that says where the problem is.
func TestSecurityCSVImportRefusesOversizedAndMalformed(t *testing.T) {
	rows := func(n int) string {
		var b strings.Builder
		b.WriteString("keyId\n")
		for i := range n {
			fmt.Fprintf(&b, "u%d\n", i)
		}
		return b.String()
	}
	manyCols := "keyId"
	for i := range MaxImportColumns {
		manyCols += fmt.Sprintf(",p%d", i)
	}
	cases := []struct{ name, in, want string }{
		{"too big", "keyId\n" + strings.Repeat("x", MaxImportBytes), "at most 1048576"},
		{"too many rows", rows(MaxImportRows + 1), "more than 10000 rows"},
		{"too many columns", manyCols + "\n", "at most 102 are accepted"},
		{"empty", "", "the file is empty"},
		{"header only", "keyId,name\n", "header row only"},
		{"no keyId", "key,name\nu1,a\n", "no keyId column"},
		{"duplicate column", "keyId,plan,plan\nu1,a,b\n", `"plan" repeats column 2`},
		{"empty column name", "keyId,,plan\nu1,a,b\n", "column 2: empty column name"},
		{"long column name", "keyId," + strings.Repeat("c", MaxPropName+1) + "\nu1,a\n", "column name longer than 128"},
		{"empty keyId", "keyId,name\nu1,a\n ,b\n", "row 3: keyId is empty"},
		{"long keyId", "keyId\n" + strings.Repeat("k", MaxKeyBytes+1) + "\n", "row 2: keyId longer than 512"},
		{"long name", "keyId,name\nu1," + strings.Repeat("n", MaxKeyBytes+1) + "\n", "row 2: name longer than 512"},
		{"long value", "keyId,plan\nu1," + strings.Repeat("v", MaxPropValue+1) + "\n", "row 2, column plan: value longer than 1024"},
		{"duplicate keyId", "keyId\nu1\nu2\nu1\n", `row 4: keyId "u1" repeats row 2`},
		{"field count", "keyId,plan\nu1,a\nu2\n", "line 3: wrong number of fields"},
		{"bare quote", "keyId,plan\nu1,a\"b\n", "line 2, column"},
		{"not UTF-8", "keyId\nu\xff1\n", "not UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users, _, err := ParseCSV([]byte(c.in))
			if err == nil {
				t.Fatalf("accepted (%d users)", len(users))
			}
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("not an invalid-input error: %v", err)
			}
			var fe *store.FieldError
			if !errors.As(err, &fe) || fe.Field != "csv" {
				t.Fatalf("error does not name the field csv: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
	// the limits themselves are accepted
	if users, _, err := ParseCSV([]byte(rows(MaxImportRows))); err != nil || len(users) != MaxImportRows {
		t.Fatalf("%d rows: %v (%d users)", MaxImportRows, err, len(users))
	}
}

func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{
		"keyId,name,country\nu1,Ann,FR\n",
		"keyId\n\"a\"\"b\"\n",
		"\xef\xbb\xbfkeyId,plan\r\nu1,\"x\ny\"\r\n",
		"name,keyId\n,u\n",
		"keyId,a,a\n",
		"keyId\nu\nu\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		users, props, err := ParseCSV(in)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if len(users) == 0 || len(users) > MaxImportRows || len(props) > MaxImportColumns {
			t.Fatalf("%d users, %d props", len(users), len(props))
		}
		keys := map[string]bool{}
		for _, u := range users {
			if u.KeyID == "" || len(u.KeyID) > MaxKeyBytes || len(u.Name) > MaxKeyBytes || keys[u.KeyID] || len(u.Props) > store.MaxEndUserProps {
				t.Fatalf("user out of bounds: %q (%d props)", u.KeyID, len(u.Props))
			}
			keys[u.KeyID] = true
			for _, p := range u.Props {
				if p.Name == "" || p.Value == "" || len(p.Name) > MaxPropName || len(p.Value) > MaxPropValue {
					t.Fatalf("property out of bounds: %q=%q", p.Name, p.Value)
				}
			}
		}
	})
}
