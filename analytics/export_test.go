package analytics

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/analytics/internal/store/storetest"
	"github.com/switchyard/switchyard/codec"
)

func exportReq(t *testing.T, s *Service, url string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
	return rec
}

func TestExportExperiment(t *testing.T) {
	s := newEmbedded(t)
	t0 := exptFixture(t, s, map[string]float64{"a": 100, "b": 120}, map[string]float64{"b": 1})
	q := fmt.Sprintf("baseline=a&metric=spend:numeric&metric=buy:conversion&from=%d&to=%d", t0, t0+86_400_000)
	rec := exportReq(t, s, APIPrefix+"/envs/env/flags/exp/experiment/export?"+q)
	if rec.Code != 200 || rec.Header().Get("Content-Disposition") != `attachment; filename="exp-experiment.csv"` {
		t.Fatalf("CSV: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(rows) != 1+2*2 || rows[0][0] != "eventName" || rows[2][4] != "b" || rows[2][6] != "120" {
		t.Fatalf("CSV rows %v (%v)", rows, err)
	}
	rec = exportReq(t, s, APIPrefix+"/envs/env/flags/exp/experiment/export?format=json&"+q)
	var doc struct {
		Rows []struct {
			EventName   string
			VariationID string
			Exposed     uint64
		}
		Truncated bool
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || len(doc.Rows) != 4 || doc.Rows[3].Exposed != 120 || doc.Truncated {
		t.Fatalf("JSON %s (%v)", rec.Body, err)
	}
}

// TestExportUsersCapped: the per-user exports stop at ?limit and say so.
func TestExportUsersCapped(t *testing.T) {
	s := newEmbedded(t)
	t0 := exptFixture(t, s, map[string]float64{"a": 5, "b": 5}, nil)
	rg := fmt.Sprintf("from=%d&to=%d", t0, t0+86_400_000)
	for _, path := range []string{"/experiment/users/export?metric=spend&", "/users/export?"} {
		rec := exportReq(t, s, APIPrefix+"/envs/env/flags/exp"+path+"limit=3&"+rg)
		res := rec.Result()
		rows, err := csv.NewReader(res.Body).ReadAll()
		if err != nil || len(rows) != 4 || res.Trailer.Get("X-Export-Truncated") != "true" {
			t.Errorf("%s CSV: %v (%v), trailer %v", path, rows, err, res.Trailer)
		}
		rec = exportReq(t, s, APIPrefix+"/envs/env/flags/exp"+path+"format=json&limit=10&"+rg)
		var doc struct {
			Rows      []map[string]any
			Truncated bool
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || len(doc.Rows) != 10 || doc.Truncated {
			t.Errorf("%s JSON: %d rows, truncated %v (%v)", path, len(doc.Rows), doc.Truncated, err)
		}
	}
	// per-user values: users 0-4 are in a, each with one spend event after exposure
	rec := exportReq(t, s, APIPrefix+"/envs/env/flags/exp/experiment/users/export?metric=spend&limit=1&"+rg)
	rows, _ := csv.NewReader(rec.Body).ReadAll()
	if len(rows) != 2 || rows[1][0] != "user-00000" || rows[1][1] != "a" || rows[1][3] != "1" {
		t.Errorf("first user row %v", rows)
	}
}

// TestSecurityExportLimits is the attack on the exports: a formula in a user
// key (CSV injection when opened in a spreadsheet), a limit above the cap, an
// unknown format, a filename smuggled through the flag key.
func TestSecurityExportLimits(t *testing.T) {
	s, err := New(Config{DataDir: t.TempDir(), Addr: "-", ExportMaxRows: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	t0 := storetest.T0.UnixMilli()
	evil := `=HYPERLINK("http://evil.example","x")`
	b := &codec.InsightBatch{EnvID: "env", Evals: []codec.FlagEval{{FlagKey: "f", VariationID: "+v", UserKey: evil, UserName: "@me", SendToExperiment: true, Timestamp: t0}}}
	if err := s.Ingest(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	rg := fmt.Sprintf("from=%d&to=%d", t0, t0+1000)
	rec := exportReq(t, s, APIPrefix+"/envs/env/flags/f/users/export?"+rg)
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][0] != "'"+evil || rows[1][1] != "'@me" || rows[1][2] != "'+v" {
		t.Errorf("formula cells not neutralised: %q (%v)", rows, err)
	}
	for name, url := range map[string]string{
		"limit above cap": "/envs/env/flags/f/users/export?limit=51&" + rg,
		"format":          "/envs/env/flags/f/users/export?format=xlsx&" + rg,
		"bad regex":       "/envs/env/flags/f/experiment/users/export?metric=m&eventType=pageview&url=regex:(a%2B)%5C1&" + rg,
	} {
		if rec := exportReq(t, s, APIPrefix+url); rec.Code != 400 || rec.Header().Get("Content-Disposition") != "" {
			t.Errorf("%s: %d %s, want 400 before any export", name, rec.Code, rec.Body)
		}
	}
	rec = exportReq(t, s, APIPrefix+"/envs/env/flags/f%22%0D%0AX-Evil:%201/users/export?"+rg)
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="f_X-Evil_1-users.csv"` || rec.Header().Get("X-Evil") != "" {
		t.Errorf("Content-Disposition %q", cd)
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Errorf("content type %q", rec.Header().Get("Content-Type"))
	}
}
