package enduser

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Limits of a CSV import (ParseCSV). An operator uploads the file, but it
// may come from anywhere: everything is bounded and a file over a limit is
// refused as a whole, naming the row, instead of being cut.
const (
	MaxImportBytes   = 1 << 20                   // the whole file
	MaxImportRows    = MaxBatchUsers             // data rows (the header not counted)
	MaxImportColumns = store.MaxEndUserProps + 2 // keyId, name and the properties
)

// ParseCSV reads end users from CSV text (RFC 4180; a UTF-8 byte-order mark
// is skipped). The first row names the columns: "keyId" (required), "name"
// (optional) and any other column is a property; names are trimmed and
// unique. Every data row has as many fields as the header; keyId is
// required and unique in the file; an empty property value is left out.
// It returns the users in file order and the property names in column
// order. Errors are store.Invalid on the field "csv", naming the row
// (1-based, the header is row 1) and column.
func ParseCSV(data []byte) ([]codec.EndUser, []string, error) {
	bad := func(format string, a ...any) error { return store.Invalid("csv", "%s", fmt.Sprintf(format, a...)) }
	if len(data) > MaxImportBytes {
		return nil, nil, bad("the file has %d bytes; at most %d are accepted", len(data), MaxImportBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, nil, bad("the file is not UTF-8 text")
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	head, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, bad("the file is empty: the first row must name the columns (keyId, name, properties)")
	}
	if err != nil {
		return nil, nil, csvErr(err)
	}
	if len(head) > MaxImportColumns {
		return nil, nil, bad("row 1: %d columns; at most %d are accepted", len(head), MaxImportColumns)
	}
	keyCol, nameCol := -1, -1
	cols := make([]string, len(head))
	seen := make(map[string]int, len(head))
	var props []string
	for i, h := range head {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
			return nil, nil, bad("row 1, column %d: empty column name", i+1)
		case len(h) > MaxPropName:
			return nil, nil, bad("row 1, column %d: column name longer than %d bytes", i+1, MaxPropName)
		}
		if j, dup := seen[h]; dup {
			return nil, nil, bad("row 1, column %d: %q repeats column %d", i+1, h, j+1)
		}
		seen[h] = i
		cols[i] = h
		switch h {
		case "keyId":
			keyCol = i
		case "name":
			nameCol = i
		default:
			props = append(props, h)
		}
	}
	if keyCol < 0 {
		return nil, nil, bad("row 1: no keyId column (the header names the columns, e.g. keyId,name,country)")
	}
	var users []codec.EndUser
	keys := map[string]int{}
	for row := 2; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, csvErr(err)
		}
		if len(users) == MaxImportRows {
			return nil, nil, bad("more than %d rows; split the file", MaxImportRows)
		}
		u := codec.EndUser{KeyID: strings.TrimSpace(rec[keyCol])}
		switch {
		case u.KeyID == "":
			return nil, nil, bad("row %d: keyId is empty", row)
		case len(u.KeyID) > MaxKeyBytes:
			return nil, nil, bad("row %d: keyId longer than %d bytes", row, MaxKeyBytes)
		}
		if first, dup := keys[u.KeyID]; dup {
			return nil, nil, bad("row %d: keyId %q repeats row %d", row, clip(u.KeyID, 64), first)
		}
		keys[u.KeyID] = row
		if nameCol >= 0 {
			u.Name = strings.TrimSpace(rec[nameCol])
			if len(u.Name) > MaxKeyBytes {
				return nil, nil, bad("row %d: name longer than %d bytes", row, MaxKeyBytes)
			}
		}
		for i, v := range rec {
			if i == keyCol || i == nameCol {
				continue
			}
			if len(v) > MaxPropValue {
				return nil, nil, bad("row %d, column %s: value longer than %d bytes", row, cols[i], MaxPropValue)
			}
			if v = strings.TrimSpace(v); v != "" {
				u.Props = append(u.Props, codec.UserProp{Name: cols[i], Value: v})
			}
		}
		users = append(users, u)
	}
	if len(users) == 0 {
		return nil, nil, bad("no end users: the file has a header row only")
	}
	return users, props, nil
}

// csvErr names the row (and column) of an encoding/csv error.
func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			msg = "wrong number of fields (every row has as many as the header)"
		}
		if pe.Column > 0 && !errors.Is(pe.Err, csv.ErrFieldCount) {
			return store.Invalid("csv", "%s", fmt.Sprintf("line %d, column %d: %s", pe.Line, pe.Column, msg))
		}
		return store.Invalid("csv", "%s", fmt.Sprintf("line %d: %s", pe.StartLine, msg))
	}
	return store.Invalid("csv", "%s", err.Error())
}
