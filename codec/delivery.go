package codec

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file delivery.go -o delivery_gen.go

//msgp:limit arrays:20000 maps:100

// TopicDelivery carries msgp DeliveryReport records from the edges to
// control (delivery receipts and the live view of connected SDKs). Records
// are keyed by edge id; control reads every partition without a consumer
// group and keeps what it reads in memory only: the state is rebuilt from
// the next heartbeats after a restart.
const TopicDelivery = "sy.delivery"

// DeliveryReport is one edge's account of what its streaming connections
// hold. An edge sends one after each change it fans out (Envs has that one
// environment, RequestID set) and a heartbeat every Interval with every
// environment it has connections for (Envs with SDKs). Counters only: the
// cost does not grow with the number of connections.
type DeliveryReport struct {
	Edge     string `msg:"edge"`     // the edge instance (host, pid and start time)
	At       int64  `msg:"at"`       // Unix ms when the report was made
	Interval int64  `msg:"interval"` // ms until the next heartbeat; control forgets the edge after 3 missed
	// Heartbeat: Envs is every environment the edge has connections for
	// (one missing has none); else Envs are the changes fanned out since
	// the last report, in order.
	Heartbeat bool          `msg:"hb"`
	Envs      []EnvDelivery `msg:"envs"`
}

// EnvDelivery is one environment at one edge: every connection counted
// holds the environment at EnvVersion or newer (a change is written to every
// connection before the report; a connection that opens later gets the full
// state, and one whose write failed is closed).
type EnvDelivery struct {
	EnvID      string     `msg:"envId"`
	EnvVersion int64      `msg:"envVersion"`
	RequestID  string     `msg:"rid,omitempty"`      // of the change at EnvVersion (change reports)
	ChangeAt   int64      `msg:"changeAt,omitempty"` // ChangeEvent.At of that change
	DoneAt     int64      `msg:"doneAt,omitempty"`   // Unix ms when it was written to the last connection (change reports)
	Server     int32      `msg:"server"`             // server-SDK streaming connections
	Client     int32      `msg:"client"`             // client-SDK streaming connections
	SDKs       []SDKCount `msg:"sdks,omitempty"`     // heartbeats only
}

// SDKCount is the number of connections of one kind: SDK type, the SDK as
// its user agent names it ("" when it sends none; browsers are "browser")
// and the expiry of the secret they connected with (0: none).
type SDKCount struct {
	Type    string `msg:"type"` // SecretServer or SecretClient
	SDK     string `msg:"sdk"`
	Expires int64  `msg:"expires,omitempty"` // Unix ms
	Count   int32  `msg:"n"`
}
