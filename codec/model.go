package codec

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file model.go -o model_gen.go

// Decoders refuse arrays and maps longer than these limits before allocating,
// so a corrupt or hostile record cannot make a reader allocate gigabytes.
//msgp:limit arrays:200000 maps:10000

// Variation is one possible value of a flag. Value is always a string on the
// wire (booleans are "true"/"false", numbers their decimal form, JSON a
// document encoded as a string).
type Variation struct {
	ID    string `msg:"id" json:"id"`
	Name  string `msg:"name" json:"name"`
	Value string `msg:"value" json:"value"`
}

// TargetUser serves VariationID to the end users whose keyId is in KeyIDs.
type TargetUser struct {
	KeyIDs      []string `msg:"keyIds" json:"keyIds"`
	VariationID string   `msg:"variationId" json:"variationId"`
}

// Condition is one test of a rule. Op is one of FeatBit's operator names (or
// one of ours, see edge/eval); for segment conditions Property is
// "User is in segment" / "User is not in segment", Op is empty and Value is a
// JSON array of segment ids. List values are JSON arrays encoded as a string.
type Condition struct {
	ID       string `msg:"id" json:"id"`
	Property string `msg:"property" json:"property"`
	Op       string `msg:"op" json:"op"`
	Value    string `msg:"value" json:"value"`
}

// RolloutVariation serves variation ID to the users whose bucket lies in
// Rollout (both ends inclusive). ExptRollout is the share of those users that
// is sent to experiments.
type RolloutVariation struct {
	ID          string     `msg:"id" json:"id"`
	Rollout     [2]float64 `msg:"rollout" json:"rollout"`
	ExptRollout float64    `msg:"exptRollout" json:"exptRollout"`
}

// Rule is an ordered targeting rule: all conditions must match.
type Rule struct {
	ID             string             `msg:"id" json:"id"`
	Name           string             `msg:"name" json:"name"`
	DispatchKey    string             `msg:"dispatchKey" json:"dispatchKey"`
	IncludedInExpt bool               `msg:"includedInExpt" json:"includedInExpt"`
	Conditions     []Condition        `msg:"conditions" json:"conditions"`
	Variations     []RolloutVariation `msg:"variations" json:"variations"`
}

// Fallthrough is the default rule, served when no targeting or rule matched.
type Fallthrough struct {
	DispatchKey    string             `msg:"dispatchKey" json:"dispatchKey"`
	IncludedInExpt bool               `msg:"includedInExpt" json:"includedInExpt"`
	Variations     []RolloutVariation `msg:"variations" json:"variations"`
}

// Flag is a feature flag of one environment, FeatBit's model. ID is a GUID
// string; UpdatedAt is Unix milliseconds (FeatBit's patch cursor); Version is
// the optimistic-concurrency counter and the order of changes.
type Flag struct {
	ID                    string       `msg:"id" json:"id"`
	EnvID                 string       `msg:"envId" json:"envId"`
	Name                  string       `msg:"name" json:"name"`
	Description           string       `msg:"description" json:"description"`
	Key                   string       `msg:"key" json:"key"`
	VariationType         string       `msg:"variationType" json:"variationType"`
	Variations            []Variation  `msg:"variations" json:"variations"`
	TargetUsers           []TargetUser `msg:"targetUsers" json:"targetUsers"`
	Rules                 []Rule       `msg:"rules" json:"rules"`
	IsEnabled             bool         `msg:"isEnabled" json:"isEnabled"`
	DisabledVariationID   string       `msg:"disabledVariationId" json:"disabledVariationId"`
	Fallthrough           Fallthrough  `msg:"fallthrough" json:"fallthrough"`
	ExptIncludeAllTargets bool         `msg:"exptIncludeAllTargets" json:"exptIncludeAllTargets"`
	Tags                  []string     `msg:"tags" json:"tags"`
	CreatedAt             int64        `msg:"createdAt" json:"createdAt"`
	UpdatedAt             int64        `msg:"updatedAt" json:"updatedAt"`
	IsArchived            bool         `msg:"isArchived" json:"isArchived"`
	Version               int64        `msg:"version" json:"version"`
}

// SegmentRule matches when all its conditions match.
type SegmentRule struct {
	ID         string      `msg:"id" json:"id"`
	Name       string      `msg:"name" json:"name"`
	Conditions []Condition `msg:"conditions" json:"conditions"`
}

// Segment is a reusable group of end users. Excluded wins over Included,
// which wins over Rules.
type Segment struct {
	ID          string        `msg:"id" json:"id"`
	EnvID       string        `msg:"envId" json:"envId"`
	Name        string        `msg:"name" json:"name"`
	Description string        `msg:"description" json:"description"`
	Included    []string      `msg:"included" json:"included"`
	Excluded    []string      `msg:"excluded" json:"excluded"`
	Rules       []SegmentRule `msg:"rules" json:"rules"`
	Tags        []string      `msg:"tags" json:"tags"`
	CreatedAt   int64         `msg:"createdAt" json:"createdAt"`
	UpdatedAt   int64         `msg:"updatedAt" json:"updatedAt"`
	IsArchived  bool          `msg:"isArchived" json:"isArchived"`
	Version     int64         `msg:"version" json:"version"`
}

// UserProp is one custom property of an end user.
type UserProp struct {
	Name  string `msg:"name" json:"name"`
	Value string `msg:"value" json:"value"`
}

// EndUser is the user a flag is evaluated for.
type EndUser struct {
	EnvID     string     `msg:"envId" json:"envId,omitempty"`
	KeyID     string     `msg:"keyId" json:"keyId"`
	Name      string     `msg:"name" json:"name"`
	Props     []UserProp `msg:"props" json:"customizedProperties"`
	FirstSeen int64      `msg:"firstSeen" json:"firstSeen,omitempty"`
	LastSeen  int64      `msg:"lastSeen" json:"lastSeen,omitempty"`
}

// Secret types.
const (
	SecretServer = "server"
	SecretClient = "client"
)

// EnvSecret is an SDK key of an environment in FeatBit's 44-character
// format (see codec/secret); Type is SecretServer or SecretClient.
type EnvSecret struct {
	EnvID string `msg:"envId" json:"envId"`
	Type  string `msg:"type" json:"type"`
	Value string `msg:"value" json:"value"`
	// ExpiresAt (Unix ms, 0: never) ends a rotated-out secret: edges accept
	// it until then and close its connections at that time.
	ExpiresAt int64 `msg:"expiresAt,omitempty" json:"expiresAt,omitempty"`
}

// EnvSnapshot is everything an edge needs to serve one environment. It is the
// content of the Redis hash "sy:env:{envId}" (envhash.go: one field per item)
// and the payload of a "snapshot" change event. Version is the environment's
// change counter: every published change increments it.
type EnvSnapshot struct {
	EnvID    string      `msg:"envId"`
	Version  int64       `msg:"version"`
	Secrets  []EnvSecret `msg:"secrets"`
	Flags    []Flag      `msg:"flags"`
	Segments []Segment   `msg:"segments"`

	// FlagsMP and SegmentsMP, when set (EnvFromFields), are the msgp
	// encodings the items were decoded from, index for index, so a reader
	// can keep them instead of encoding the items again; whoever changes
	// Flags or Segments must set them to nil. Not encoded.
	FlagsMP    [][]byte `msg:"-"`
	SegmentsMP [][]byte `msg:"-"`
}

// Change kinds and operations carried by ChangeEvent.
const (
	KindFlag     = "flag"
	KindSegment  = "segment"
	KindSecrets  = "secrets"  // Payload is an EnvSnapshot with only Secrets set
	KindSnapshot = "snapshot" // Payload is a whole EnvSnapshot
	KindEnv      = "env"      // environment deleted: Op is OpDelete
	// KindBatch is one write of many flags (the bulk route): Payload is an
	// EnvSnapshot with only Flags set (Version: the EnvVersion), applied by
	// an edge as one change (one new state, one update to each SDK). Op is
	// OpUpsert. ExpandBatch splits it into KindFlag events for writers that
	// store items one by one.
	KindBatch = "batch"

	OpUpsert = "upsert"
	OpDelete = "delete"
)

// ChangeEvent is the value of a record on the change topic, keyed by EnvID so
// one environment's changes stay ordered. Version is the item's version (the
// edge applies an event only when it is newer than what it holds); EnvVersion
// is the environment's change counter after this change. Payload is the
// msgp-encoded Flag or Segment (or EnvSnapshot for KindSecrets/KindSnapshot).
// AffectedFlags lists flag ids whose evaluation a segment change can alter.
type ChangeEvent struct {
	EnvID         string   `msg:"envId"`
	Kind          string   `msg:"kind"`
	Op            string   `msg:"op"`
	ID            string   `msg:"id"`
	Version       int64    `msg:"version"`
	EnvVersion    int64    `msg:"envVersion"`
	At            int64    `msg:"at"`
	Payload       []byte   `msg:"payload,limit=268435456"`
	AffectedFlags []string `msg:"affectedFlags"`

	// RequestID is the id of the API request that made the change (the
	// caller's X-Request-Id or one control assigned), logged by control's
	// publisher and the edge's push so one id follows a change from the
	// API to the SDKs. Empty for changes without one.
	RequestID string `msg:"rid,omitempty"`
}

// FlagEval is one flag evaluation reported by an SDK (FeatBit's
// "variations" insight). Timestamp is Unix milliseconds.
type FlagEval struct {
	EnvID            string `msg:"envId"`
	FlagKey          string `msg:"flagKey"`
	VariationID      string `msg:"variationId"`
	Value            string `msg:"value"`
	UserKey          string `msg:"userKey"`
	UserName         string `msg:"userName"`
	SendToExperiment bool   `msg:"sendToExperiment"`
	Timestamp        int64  `msg:"ts"`
}

// MetricEvent is one custom metric event reported by an SDK.
type MetricEvent struct {
	EnvID        string  `msg:"envId"`
	EventName    string  `msg:"eventName"`
	Route        string  `msg:"route"`
	Type         string  `msg:"type"`
	AppType      string  `msg:"appType"`
	UserKey      string  `msg:"userKey"`
	NumericValue float64 `msg:"numericValue"`
	Timestamp    int64   `msg:"ts"`
}

// InsightBatch is the value of a record on the insight topic: the events of
// one track request (or several, batched by the edge), keyed by EnvID.
type InsightBatch struct {
	EnvID   string        `msg:"envId"`
	Evals   []FlagEval    `msg:"evals"`
	Metrics []MetricEvent `msg:"metrics"`
}

// EndUserBatch is the value of a record on the end-user topic.
type EndUserBatch struct {
	EnvID string    `msg:"envId"`
	Users []EndUser `msg:"users"`
}

// ClientFlag is one flag evaluated for a client SDK's user in the binary
// streaming protocol (subprotocol "switchyard.msgpack.v1", see
// docs/edge.md): the msgpack form of FeatBit's client-SDK flag. Key is the
// flag key (FeatBit's "id"); VariationNull marks an archived flag (JSON
// variation null).
type ClientFlag struct {
	Key              string      `msg:"id"`
	Variation        string      `msg:"variation"`
	VariationNull    bool        `msg:"variationNull"`
	VariationType    string      `msg:"variationType"`
	VariationID      string      `msg:"variationId"`
	MatchReason      string      `msg:"matchReason"`
	Options          []Variation `msg:"variationOptions"`
	SendToExperiment bool        `msg:"sendToExperiment"`
	Timestamp        int64       `msg:"timestamp"`
}

// SyncData is the data of a binary streaming message. SDK → edge: Timestamp
// (data-sync cursor) and User (client SDKs). Edge → SDK data-sync: EventType
// ("full" or "patch") with FeatureFlags and Segments (server SDKs) or
// UserKeyID and ClientFlags (client SDKs). Pong carries an empty map.
type SyncData struct {
	Timestamp    int64        `msg:"timestamp"`
	User         *EndUser     `msg:"user"`
	EventType    string       `msg:"eventType"`
	UserKeyID    string       `msg:"userKeyId"`
	FeatureFlags []Flag       `msg:"featureFlags"`
	Segments     []Segment    `msg:"segments"`
	ClientFlags  []ClientFlag `msg:"clientFlags"`
}

// SyncMessage is one message of the binary streaming protocol: the same
// messages as FeatBit's JSON protocol ({"messageType","data"}) as msgpack
// maps with the same keys. Decode any edge message with it (absent keys stay
// zero); MessageType is "data-sync", "pong" or "echo" from the edge.
type SyncMessage struct {
	MessageType string   `msg:"messageType"`
	Data        SyncData `msg:"data"`
}
