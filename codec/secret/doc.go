// Package secret implements FeatBit's 44-character environment secret (SDK
// key) and the obfuscated connection token that SDKs put in the
// /streaming?token=… query parameter.
//
// A secret is Encode(random GUID) + Encode(env id): each part is the standard
// base64 of the .NET Guid byte layout (the first 4, 2 and 2 bytes
// little-endian), with '/' replaced by '_' and '+' by '-', truncated to 22
// characters. EnvID recovers the env id from characters 22..44.
//
// A connection token hides a Unix-millisecond timestamp inside the secret:
//
//	token = enc(pos,3) + enc(len(ts),2) + s[:pos] + enc(ts) + s[pos:]
//
// where enc maps decimal digits 0..9 to the letters Q B W S P H D X Z U.
// DecodeToken reverses it exactly like FeatBit's evaluation server and rejects
// tokens whose timestamp is further than a window (FeatBit: 30 s) from now, in
// either direction.
//
// Errors: every error returned by this package matches ErrMalformed or
// ErrExpired with errors.Is. The error values are preallocated, so the failure
// paths of the decoders do not allocate either.
//
// Allocation and lifetime: DecodeTokenBytes and AppendEnvID append into a
// caller buffer and do not allocate; the result aliases nothing but dst.
// DecodeToken and EnvID allocate only the returned string. All functions are
// safe for concurrent use.
package secret
