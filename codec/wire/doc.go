// Package wire encodes and parses FeatBit's JSON wire form: the data-sync
// messages of the /streaming WebSocket (server and client SDKs), the pong
// reply, the insight track body and the client polling user body. It uses
// no reflection and no encoding/json.
//
// # Encoders
//
// Every encoder appends to a caller buffer and returns it, like strconv's
// Append functions: b = wire.AppendFlag(b[:0], f). Encoders never fail and
// never allocate beyond growing b, so an edge can encode each flag once,
// cache the bytes, and build envelopes from cached items with
// AppendServerSyncRaw (encode once, fan out bytes). Strings are escaped per
// RFC 8259: quotes, backslashes and control characters are escaped, invalid
// UTF-8 becomes U+FFFD, and U+2028/U+2029 are escaped for JavaScript
// consumers; '<', '>' and '&' are written as is. Empty slices are written as
// [] and never as null.
//
// # Parsers
//
// Message.Parse reads one incoming SDK message ({"messageType":…,"data":…})
// without allocating once its scratch space has grown to the message sizes
// seen. It is strict JSON (RFC 8259, UTF-8 validated, one value with nothing
// but whitespace after it) with a nesting limit of MaxDepth; unknown fields
// are skipped at any depth, and object keys are matched ignoring ASCII case,
// as the .NET server does.
//
// Lifetime rule: the byte slices in a Message (Message.TypeName, the
// UserView fields) alias either the input buffer or the Message's own
// scratch. They are valid until the next call to Parse on that Message or
// until the caller reuses or modifies the input buffer, whichever comes
// first. Copy them (string(v)) to keep them. An error returned by Parse may
// also point into the Message and has the same lifetime. A Message must not
// be used by two goroutines at once; keep one per connection or pool them.
//
// ParseTrack and ParseUser convert into codec types and allocate the strings
// they store; they do not retain the input.
//
// # Binary variant
//
// The streaming subprotocol switchyard.msgpack.v1 carries the same messages
// as msgpack maps with the same keys (msgpack.go): AppendServerSyncMP,
// AppendClientSyncMP, PongMP and AppendEchoMP encode what the edge sends
// (codec.SyncMessage decodes it), ParseMP reads what an SDK sends into the
// same Message as Parse, without allocating, with the same lifetime rule
// (its slices alias the input and the caller's props slice).
//
// Every JSON parser here shares one strict scanner (scan.go); the edge has
// no other JSON reader of request bodies.
package wire
