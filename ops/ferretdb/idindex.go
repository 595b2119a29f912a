package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB's SQLite backend registers as "sqlite"
)

// FerretDB v1's SQLite backend answers a query from SQLite only when its
// filter is exactly {_id: <string or ObjectID>}: it then asks SQLite for
// `WHERE _ferretdb_sjson->'$._id' = ?`. The unique _id index it creates is
// on a different expression (`_ferretdb_sjson->"_id"`), and SQLite uses an
// expression index only for the identical expression, so every such lookup
// was a full scan of the table (EXPLAIN QUERY PLAN: "SCAN"). indexIDs adds,
// to every collection table, an index on the exact expression the queries
// use ("SEARCH ... USING INDEX"), which makes a lookup by _id O(log n) in
// the collection's size. The index is invisible to FerretDB's metadata
// (listIndexes does not show it) and goes with the table when the
// collection is dropped.

// idIndexSuffix names the index: FerretDB's own are "<table>_<index name>",
// and index names cannot contain "__" in its metadata.
const idIndexSuffix = "__sy_id"

// indexIDs indexes the collections of every database in dir now and then
// every interval (new collections are created by first inserts), until ctx
// ends.
func indexIDs(ctx context.Context, dir string, every time.Duration, log *slog.Logger) {
	done := map[string]bool{} // "<file>/<table>" already indexed
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, f := range files {
			if err := indexFile(ctx, f, done); err != nil && ctx.Err() == nil {
				log.Warn("cannot add _id indexes", "file", f, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// indexFile adds the _id index to the collection tables of one database
// file that lack it.
func indexFile(ctx context.Context, file string, done map[string]bool) error {
	if _, err := os.Stat(file); err != nil {
		return nil // dropped meanwhile
	}
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		if !strings.HasPrefix(name, "_ferretdb_") && !done[file+"/"+name] {
			tables = append(tables, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, tb := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, tb+idIndexSuffix, tb)
		if _, err := db.ExecContext(ctx, q); err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue // dropped meanwhile
			}
			return fmt.Errorf("%s: %w", tb, err)
		}
		done[file+"/"+tb] = true
	}
	return nil
}
