package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestIndexFileMakesIDLookupsSearch: after indexFile, SQLite answers
// FerretDB's query by _id from an index (SEARCH), where it scanned before;
// FerretDB's metadata table is left alone, and a second pass is a no-op.
func TestIndexFileMakesIDLookupsSearch(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE _ferretdb_collections (db_name TEXT, table_name TEXT)`,
		`CREATE TABLE "flags_1234" (_ferretdb_sjson TEXT)`,
		`CREATE UNIQUE INDEX "flags_1234__id_" ON "flags_1234" (_ferretdb_sjson->"_id")`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500)
		 INSERT INTO "flags_1234" SELECT json_object('_id', 'f' || i, 'key', 'k' || i) FROM n`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	plan := func() string {
		var id, parent, notused int
		var detail string
		err := db.QueryRow(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "flags_1234" WHERE _ferretdb_sjson->'$._id' = ?`, `"x"`).
			Scan(&id, &parent, &notused, &detail)
		if err != nil {
			t.Fatal(err)
		}
		return detail
	}
	if p := plan(); !strings.HasPrefix(p, "SCAN") {
		t.Fatalf("before: %s", p)
	}
	done := map[string]bool{}
	for range 2 {
		if err := indexFile(ctx, file, done); err != nil {
			t.Fatal(err)
		}
	}
	// a new connection plans with the new schema (FerretDB's pool picks the
	// index up as well: TestIntegrationWriteQueryPlans in control)
	db.Close()
	if db, err = sql.Open("sqlite", "file:"+file); err != nil {
		t.Fatal(err)
	}
	if p := plan(); !strings.Contains(p, "USING INDEX flags_1234"+idIndexSuffix) {
		t.Fatalf("after: %s", p)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = '_ferretdb_collections'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("metadata table indexed: %d %v", n, err)
	}
	if err := indexFile(ctx, filepath.Join(t.TempDir(), "gone.sqlite"), done); err != nil {
		t.Fatalf("missing file: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "gone*")); len(m) != 0 {
		t.Fatalf("a missing database file was created: %v", m)
	}
}
