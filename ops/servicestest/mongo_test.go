//go:build integration

package servicestest

import (
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// TestMongo checks insert/find and a unique index through mongo-driver: a duplicate key is
// rejected with error code 11000.
func TestMongo(t *testing.T) {
	uri := env(t, "SY_TEST_MONGO_URI")
	ctx := ctxFor(t, 60*time.Second)

	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(20*time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	defer client.Disconnect(ctx)
	if err := client.Ping(ctx, nil); err != nil {
		t.Fatalf("ping %s: %v", uri, err)
	}

	db := client.Database("svctest_" + suffix())
	defer db.Drop(ctx)
	coll := db.Collection("items")

	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "envId", Value: 1}, {Key: "key", Value: 1}},
		Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatalf("create unique index: %v", err)
	}

	docs := []any{
		bson.D{{Key: "envId", Value: "e1"}, {Key: "key", Value: "a"}, {Key: "n", Value: 1}},
		bson.D{{Key: "envId", Value: "e1"}, {Key: "key", Value: "b"}, {Key: "n", Value: 2}},
		bson.D{{Key: "envId", Value: "e2"}, {Key: "key", Value: "a"}, {Key: "n", Value: 3}},
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatalf("insert: %v", err)
	}

	var got struct {
		EnvID string `bson:"envId"`
		Key   string `bson:"key"`
		N     int    `bson:"n"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "envId", Value: "e1"}, {Key: "key", Value: "b"}}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if got.EnvID != "e1" || got.Key != "b" || got.N != 2 {
		t.Fatalf("find returned %+v", got)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{{Key: "envId", Value: "e1"}}); err != nil || n != 2 {
		t.Fatalf("count envId=e1 = %d, %v; want 2", n, err)
	}

	_, err = coll.InsertOne(ctx, bson.D{{Key: "envId", Value: "e1"}, {Key: "key", Value: "a"}, {Key: "n", Value: 9}})
	if err == nil {
		t.Fatalf("duplicate (envId, key) was accepted despite the unique index")
	}
	var we mongo.WriteException
	if !errors.As(err, &we) || len(we.WriteErrors) == 0 || we.WriteErrors[0].Code != 11000 {
		t.Fatalf("duplicate insert error = %v; want a write error with code 11000", err)
	}
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("mongo.IsDuplicateKeyError(%v) = false", err)
	}
}
