//go:build tools

// Package switchyard pins the product's dependencies (see docs/architecture.md);
// this file is never built.
package switchyard

import (
	_ "github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/cloudwego/netpoll"
	_ "github.com/gobwas/ws"
	_ "github.com/redis/rueidis"
	_ "github.com/tinylib/msgp/msgp"
	_ "github.com/twmb/franz-go/pkg/kadm"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/valyala/fasthttp"
	_ "go.etcd.io/bbolt"
	_ "go.mongodb.org/mongo-driver/mongo"
	_ "golang.org/x/crypto/bcrypt"
)
