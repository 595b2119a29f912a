// Package wsconn serves WebSocket connections on cloudwego/netpoll event
// loops with gobwas/ws for the upgrade and the frame headers, and hands
// every other HTTP/1.1 request on the same port to a fallback (fasthttp).
//
// There is no goroutine per connection. netpoll runs the OnRequest callback
// on a pooled goroutine only while input is waiting; a connection that is
// idle holds only its Conn (112 bytes) plus netpoll's connection object and
// buffers. Scratch space (the frame-header reader, the pong buffer, the
// handler's reply buffers and message parser) comes from pools for the
// duration of one callback, so an idle connection holds none of it. A goroutine is kept longer only while a handshake or a
// frame has arrived partially (bounded by the handshake and frame timeouts)
// and for plain HTTP keep-alive connections, which fasthttp serves in the
// borrowed goroutine (HTTP is not the million-connection path).
//
// Frames: client frames must be masked; the payload is unmasked in place in
// netpoll's input buffer. A frame or a reassembled message longer than
// Config.MaxMessageBytes closes the connection with 1009. WebSocket pings are
// answered with pongs; a close frame is echoed and the connection closed.
// Server frames are built by the caller with FrameReserve bytes of room in
// front of the payload (see Frame), so one encoded frame can be written to
// many connections unchanged.
//
// Timeouts: a single sweeper goroutine closes connections whose handshake
// did not complete within HandshakeTimeout, frames that did not complete
// within FrameTimeout, open connections that sent nothing for IdleTimeout
// (SDKs ping every 10–18 s), closing handshakes not answered within
// CloseTimeout, plain HTTP connections idle for HTTPIdleTimeout, and plain
// HTTP requests not complete RequestTimeout after their first byte (a
// request that arrives in one read is never tracked; see httpConn). netpoll
// read deadlines are not used: each would attach a timer to the connection
// for good. The sweeper ticks every quarter of the shortest of the first
// three (20 ms to 1 s). Each tick it checks the pending set — connections in
// a handshake, a started frame or a closing handshake, an entry only while
// in that state — and a slice of the registry's shards, so every connection
// is visited once per scan (an eighth of the shorter idle timeout, at most
// 30 s) rather than every tick: idle connections are closed up to one scan
// late, and with the defaults (250 ms tick, 15 s scan) a million idle
// connections cost ~67,000 visits a second instead of four million.
// Activity stamps read the sweeper's clock (refreshed each tick), not the
// system clock.
//
// Per-address cap: a connection holds one of its address's MaxUnfinished
// slots (AddrKey: an IPv4 address or an IPv6 /64) from accept until its
// request header is complete, and an HTTP request that does not arrive in
// one read holds one until it is handled; a connection over the cap is
// closed at accept, a slow request over it ends its connection. An address
// holding its quota of slow requests so cannot exhaust the process's file
// descriptors. LimitListener applies the same cap to a plain net.Listener.
// A text message that is not UTF-8 closes the connection with 1007.
//
// Closing: CloseWith sends a close frame and waits for the peer's (RFC 6455
// 7.1.1) before closing TCP; a close frame from the peer is echoed and the
// connection closed at once.
//
// Concurrency and lifetime: Handler.Message runs on the connection's netpoll
// task, one at a time per connection; the payload it receives aliases
// netpoll's input buffer and is valid only until Message returns. Write and
// Close may be called from any goroutine: Conn.mu serialises writes. Lock
// order: a caller holding its own locks (hub → env) may call Conn.Write,
// which takes Conn.mu last; wsconn never calls back into the handler while
// holding Conn.mu or a registry shard lock.
package wsconn
