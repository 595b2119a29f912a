package codec

// The Kafka part of the contract between the components. Every topic name
// is used with the deployment's topic prefix in front (`-topic-prefix`,
// `SY_*_TOPIC_PREFIX`); records are keyed by environment id, so each
// environment's records stay in order on one partition. The Redis part is in
// envhash.go.
const (
	// TopicChanges carries one msgp ChangeEvent per change, produced by
	// control's publisher and read by every edge (no consumer group: each
	// edge reads every partition).
	TopicChanges = "sy.changes"
	// TopicInsights carries msgp InsightBatch records (evaluations and
	// metric events) from the edges to analytics.
	TopicInsights = "sy.insights"
	// TopicEndUsers carries msgp EndUserBatch records from the edges to
	// control's end-user store.
	TopicEndUsers = "sy.endusers"

	// GroupAnalytics is analytics' consumer group on TopicInsights.
	GroupAnalytics = "sy-analytics"
	// GroupControlEndUsers is control's consumer group on TopicEndUsers.
	GroupControlEndUsers = "sy-control-endusers"
)
