// Package other holds a type whose name collides with one in package
// openapi's tests (component naming across packages).
package other

// Inner shares its name with openapi's test type Inner.
type Inner struct {
	B int `json:"b"`
}
