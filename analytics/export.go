package analytics

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
)

// Exports stream CSV or JSON (?format=csv|json, default csv) as attachments.
// Every export is bounded: at most ?limit rows, and never more than
// Config.ExportMaxRows; it ends within exportTimeout however slowly the
// client reads. A cut-off is reported at the end: the JSON document's
// "truncated" field, or the CSV response's X-Export-Truncated trailer. An
// error after the first byte aborts the connection, so a client never takes
// a short file for a whole one.

// exportTimeout bounds one export (query and transfer).
const exportTimeout = 5 * time.Minute

// exportPage is the page size of exports built from paged queries.
const exportPage = 10_000

var fileSafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// exporter writes one export.
type exporter struct {
	w       http.ResponseWriter
	json    bool
	csv     *csv.Writer
	rows    int
	started bool
}

// exportStart validates the format and sends the headers.
func exportStart(w http.ResponseWriter, r *http.Request, name string, cols []string) (*exporter, error) {
	e := &exporter{w: w}
	switch r.URL.Query().Get("format") {
	case "", "csv":
	case "json":
		e.json = true
	default:
		return nil, fmt.Errorf("%w: format must be csv or json", errBadRequest)
	}
	ext, ctype := "csv", "text/csv; charset=utf-8"
	if e.json {
		ext, ctype = "json", "application/json"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, fileSafe.ReplaceAllString(name, "_"), ext))
	if !e.json {
		h.Set("Trailer", "X-Export-Truncated")
	}
	w.WriteHeader(http.StatusOK)
	e.started = true
	if e.json {
		_, err := w.Write([]byte(`{"rows":[`))
		return e, err
	}
	e.csv = csv.NewWriter(w)
	return e, e.csv.Write(cols)
}

// row writes one row: cells for CSV, v for JSON.
func (e *exporter) row(cells []string, v any) error {
	e.rows++
	if !e.json {
		return e.csv.Write(cells)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if e.rows > 1 {
		b = append([]byte{','}, b...)
	}
	_, err = e.w.Write(append(b, '\n'))
	return err
}

// end finishes the document.
func (e *exporter) end(truncated bool) error {
	if e.json {
		_, err := fmt.Fprintf(e.w, `],"truncated":%t}`+"\n", truncated)
		return err
	}
	e.csv.Flush()
	e.w.Header().Set("X-Export-Truncated", strconv.FormatBool(truncated))
	return e.csv.Error()
}

// safeCell neutralises a cell an attacker controls (user keys and names,
// variation ids) against formula injection when the CSV is opened in a
// spreadsheet: a leading = + - @ tab or CR gets a quote prefix.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func fnum(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'g', -1, 64)
}

// export runs fn with an exporter under the export deadline and maps errors:
// before the headers as the JSON API does, after them by aborting.
func (s *Service) export(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, e func(name string, cols []string) (*exporter, error)) error) {
	ctx, cancel := context.WithTimeout(r.Context(), exportTimeout)
	defer cancel()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(exportTimeout))
	var ex *exporter
	err := fn(ctx, func(name string, cols []string) (*exporter, error) {
		var err error
		ex, err = exportStart(w, r, name, cols)
		return ex, err
	})
	if err == nil {
		return
	}
	if ex != nil && ex.started {
		s.log.Warn("analytics: export aborted", "path", r.URL.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
	s.wrap(func(http.ResponseWriter, *http.Request) (any, error) { return nil, err }).ServeHTTP(w, r)
}

// exportLimit reads ?limit (default and maximum: Config.ExportMaxRows).
func (s *Service) exportLimit(r *http.Request) (int, error) {
	n, err := intParam(r.URL.Query(), "limit", s.cfg.ExportMaxRows, s.cfg.ExportMaxRows)
	if err == nil && n == 0 {
		n = s.cfg.ExportMaxRows
	}
	return n, err
}

var armCols = []string{"eventName", "type", "lowerIsBetter", "guardrail", "variationId", "isBaseline", "exposed", "converted",
	"samples", "value", "stdDev", "diff", "diffLo", "diffHi", "uplift", "upliftLo", "upliftHi", "pValue", "adjustedPValue",
	"probabilityToBeatBaseline", "significant", "verdict", "harm"}

// exportExperiment exports an experiment's per-arm results (the GET form of
// the experiment query), one row per metric and variation.
func (s *Service) exportExperiment(w http.ResponseWriter, r *http.Request) {
	s.export(w, r, func(ctx context.Context, start func(string, []string) (*exporter, error)) error {
		eq, err := experimentQueryOf(r)
		if err != nil {
			return err
		}
		res, err := s.Experiment(ctx, eq)
		if err != nil {
			return err
		}
		e, err := start(eq.FlagKey+"-experiment", armCols)
		if err != nil {
			return err
		}
		for _, m := range res.Metrics {
			for _, v := range m.Variations {
				cells := []string{safeCell(m.EventName), m.Type, strconv.FormatBool(m.LowerIsBetter), strconv.FormatBool(m.Guardrail),
					safeCell(v.VariationID), strconv.FormatBool(v.IsBaseline), strconv.FormatUint(v.Exposed, 10),
					strconv.FormatUint(v.Converted, 10), strconv.FormatUint(v.Samples, 10), fnum(v.Value), fnum(v.StdDev),
					fnum(v.Diff), fnum(v.DiffCI[0]), fnum(v.DiffCI[1]), fnum(v.Uplift), fnum(v.UpliftCI[0]), fnum(v.UpliftCI[1]),
					fnum(v.PValue), fnum(v.AdjustedPValue), fnum(v.ProbBeatBaseline), strconv.FormatBool(v.Significant),
					v.Verdict, strconv.FormatBool(v.Harm)}
				row := struct {
					MetricSpec
					VariationOutcome
				}{m.MetricSpec, v}
				if err := e.row(cells, row); err != nil {
					return err
				}
			}
		}
		return e.end(false)
	})
}

// exportExperimentUsers exports an experiment's exposed users with one
// metric (?metric=eventName, ?eventType, ?url=matchType:url repeated): variation,
// first exposure, events after it and their mean value.
func (s *Service) exportExperimentUsers(w http.ResponseWriter, r *http.Request) {
	s.export(w, r, func(ctx context.Context, start func(string, []string) (*exporter, error)) error {
		rg, err := rangeOf(r)
		if err != nil {
			return err
		}
		limit, err := s.exportLimit(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		m := MetricSpec{EventName: q.Get("metric"), Type: MetricNumeric, EventType: q.Get("eventType")}
		for _, u := range q["url"] {
			t, v, ok := strings.Cut(u, ":")
			if !ok {
				return fmt.Errorf("%w: url must be matchType:url", errBadRequest)
			}
			m.URLs = append(m.URLs, store.URLMatch{MatchType: t, URL: v})
		}
		if err := m.normalize(); err != nil {
			return err
		}
		var e *exporter
		n := 0
		err = s.store.ExperimentUsers(ctx, rg, m.query(time.Time{}), limit+1, func(u *store.ExperimentUser) error {
			if e == nil {
				if e, err = start(rg.FlagKey+"-experiment-users", []string{"userKey", "variationId", "firstExposure", "events", "value"}); err != nil {
					return err
				}
			}
			if n++; n > limit {
				return errTruncated
			}
			return e.row([]string{safeCell(u.UserKey), safeCell(u.VariationID), strconv.FormatInt(u.FirstExposure, 10),
				strconv.FormatUint(u.Events, 10), strconv.FormatFloat(u.Value, 'g', -1, 64)}, u)
		})
		if err != nil && !errors.Is(err, errTruncated) {
			return err
		}
		if e == nil {
			if e, err = start(rg.FlagKey+"-experiment-users", []string{"userKey", "variationId", "firstExposure", "events", "value"}); err != nil {
				return err
			}
		}
		return e.end(n > limit)
	})
}

var errTruncated = errors.New("export row cap reached")

// exportFlagUsers exports a flag's insights per (user, variation): how often
// and when last each user got each variation (?variation filters).
func (s *Service) exportFlagUsers(w http.ResponseWriter, r *http.Request) {
	s.export(w, r, func(ctx context.Context, start func(string, []string) (*exporter, error)) error {
		rg, err := rangeOf(r)
		if err != nil {
			return err
		}
		limit, err := s.exportLimit(r)
		if err != nil {
			return err
		}
		e, err := start(rg.FlagKey+"-users", []string{"userKey", "userName", "variationId", "evaluations", "lastSeen"})
		if err != nil {
			return err
		}
		for off := 0; off < limit; off += exportPage {
			page, err := s.store.Users(ctx, store.UsersQuery{Range: rg, VariationID: r.URL.Query().Get("variation"),
				Limit: min(exportPage, limit-off+1), Offset: off})
			if err != nil {
				return err
			}
			for i, u := range page {
				if off+i >= limit {
					return e.end(true)
				}
				if err := e.row([]string{safeCell(u.UserKey), safeCell(u.UserName), safeCell(u.VariationID),
					strconv.FormatUint(u.Evaluations, 10), strconv.FormatInt(u.LastSeen, 10)}, u); err != nil {
					return err
				}
			}
			if len(page) < min(exportPage, limit-off+1) {
				return e.end(false)
			}
		}
		return e.end(false)
	})
}
