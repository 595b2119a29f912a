package eval

import (
	"unicode"
	"unicode/utf8"

	"github.com/switchyard/switchyard/codec"
)

// User is the end user a flag is evaluated for.
type User struct {
	KeyID, Name string
	Props       []codec.UserProp
}

// UserFrom returns the User for an end user of the wire model. The result
// shares u's Props slice.
func UserFrom(u *codec.EndUser) User {
	return User{KeyID: u.KeyID, Name: u.Name, Props: u.Props}
}

// ValueOf returns the value of the attribute name as FeatBit reads it: ""
// for an empty or blank name, KeyID for "keyId", Name for "name" (both exact
// and case-sensitive), otherwise the value of the first custom property with
// exactly that name, and "" when there is none.
func (u *User) ValueOf(name string) string {
	return compileProp(name).get(u)
}

type propKind uint8

const (
	propBlank propKind = iota // empty or whitespace name: always ""
	propKeyID
	propName
	propCustom
)

// prop is an attribute reference resolved when a condition is compiled.
type prop struct {
	kind propKind
	name string
}

func compileProp(name string) prop {
	switch {
	case isBlank(name):
		return prop{kind: propBlank}
	case name == "keyId":
		return prop{kind: propKeyID, name: name}
	case name == "name":
		return prop{kind: propName, name: name}
	}
	return prop{kind: propCustom, name: name}
}

func (p prop) get(u *User) string {
	switch p.kind {
	case propKeyID:
		return u.KeyID
	case propName:
		return u.Name
	case propCustom:
		for i := range u.Props {
			if u.Props[i].Name == p.name {
				return u.Props[i].Value
			}
		}
	}
	return ""
}

// isBlank reports whether s is empty or only white space (.NET
// string.IsNullOrWhiteSpace).
func isBlank(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}
