package ofrep

import (
	"github.com/switchyard/switchyard/codec/wire"
	"github.com/switchyard/switchyard/edge/eval"
)

// Context is an OFREP evaluation context read as a FeatBit user, by
// codec/wire's OFREPContext (the one JSON scanner of the edge). Its strings
// are views of the parsed body (or of the parser's scratch, for strings with
// escapes) and are valid only until the body is released or Parse is called
// again.
type Context struct {
	User eval.User
	w    wire.OFREPContext
}

// OFREP error codes returned by Parse.
const (
	ErrParse     = wire.OFREPParseError
	ErrNoKey     = wire.OFREPNoTargetingKey
	ErrBadContex = wire.OFREPInvalidContext
)

// MaxMembers is the most members an object of the body may have (it bounds
// the duplicate-key check).
const MaxMembers = wire.OFREPMaxMembers

// reset drops the views of the last body (the scratch goes back to a pool).
func (c *Context) reset() {
	c.w.Reset()
	c.User = eval.User{}
}

// Parse reads {"context":{…}} (other members are ignored). It returns an
// empty code on success, else an OFREP error code and a message.
func (c *Context) Parse(body []byte) (code, msg string) {
	code, msg = c.w.Parse(body)
	if code != "" {
		c.User = eval.User{}
		return code, msg
	}
	c.User = eval.User{KeyID: c.w.KeyID, Name: c.w.Name, Props: c.w.Props}
	return "", ""
}
