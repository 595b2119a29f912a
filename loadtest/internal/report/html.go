package report

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/switchyard/switchyard/loadtest/internal/hist"
)

const (
	chartW = 720
	chartH = 260
	padL   = 70
	padR   = 20
	padT   = 24
	padB   = 44
)

// WriteHTML renders the result as one self-contained HTML page.
func (r *Result) WriteHTML(sb *strings.Builder) {
	esc := html.EscapeString
	fmt.Fprintf(sb, `<!doctype html><html><head><meta charset="utf-8"><title>loadtest %s</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:900px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#070}.bad{color:#b00;font-weight:bold}
svg{background:#fafafa;border:1px solid #ddd;margin:.5em 0}</style></head><body>
<h1>loadtest: %s</h1><p>started %s, %.1f s</p>`, esc(r.Scenario), esc(r.Scenario), r.Started.UTC().Format("2006-01-02 15:04:05 UTC"), r.Duration)

	sb.WriteString("<h2>Summary</h2><table><tr><th>metric</th><th>value</th><th>unit</th><th>goal</th><th>note</th></tr>")
	for _, m := range r.Metrics {
		goal := esc(m.Goal)
		if m.Met != nil {
			if *m.Met {
				goal += ` <span class="ok">met</span>`
			} else {
				goal += ` <span class="bad">missed</span>`
			}
		}
		fmt.Fprintf(sb, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>", esc(m.Name), fmtVal(m.Value), esc(m.Unit), goal, esc(m.Note))
	}
	sb.WriteString("</table>")

	if len(r.Latencies) > 0 {
		sb.WriteString("<h2>Latency</h2><table><tr><th>ms</th><th>n</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>")
		for _, l := range r.Latencies {
			s := l.Summary
			fmt.Fprintf(sb, "<tr><td>%s</td><td>%d</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td></tr>",
				esc(l.Name), s.N, s.Mean, s.P50, s.P90, s.P99, s.P999, s.Max)
		}
		sb.WriteString("</table>")
		for _, l := range r.Latencies {
			if l.Hist.N == 0 {
				continue
			}
			fmt.Fprintf(sb, "<h3>%s</h3>", esc(l.Name))
			histogramSVG(sb, l.Hist)
		}
	}
	if len(r.Timeline) > 1 {
		sb.WriteString("<h2>Connections over time</h2>")
		var open, synced, failed [][2]float64
		for _, p := range r.Timeline {
			open = append(open, [2]float64{p.T, float64(p.Open)})
			synced = append(synced, [2]float64{p.T, float64(p.Synced)})
			failed = append(failed, [2]float64{p.T, float64(p.Failed)})
		}
		lineSVG(sb, "seconds", "connections", []line{{"synced (cumulative)", "#2ca02c", synced}, {"open", "#1f77b4", open}, {"failed (cumulative)", "#d62728", failed}})
	}
	for _, s := range r.Series {
		fmt.Fprintf(sb, "<h2>%s</h2>", esc(s.Name))
		lineSVG(sb, s.XLabel, s.YLabel, []line{{s.Name, "#9467bd", s.Points}})
	}
	if len(r.Failures) > 0 {
		sb.WriteString("<h2>Failures by cause</h2><table><tr><th>cause</th><th>count</th></tr>")
		for _, k := range sortedKeys(r.Failures) {
			fmt.Fprintf(sb, "<tr><td>%s</td><td>%d</td></tr>", esc(k), r.Failures[k])
		}
		sb.WriteString("</table>")
	}
	sb.WriteString("<h2>Checks</h2><ul>")
	for _, c := range r.Checks {
		cls, st := "ok", "ok"
		if !c.OK {
			cls, st = "bad", "FAILED"
		}
		fmt.Fprintf(sb, `<li><span class="%s">%s</span> %s: %s</li>`, cls, st, esc(c.Name), esc(c.Detail))
	}
	sb.WriteString("</ul>")
	if len(r.Notes) > 0 {
		sb.WriteString("<h2>Notes</h2><ul>")
		for _, n := range r.Notes {
			fmt.Fprintf(sb, "<li>%s</li>", esc(n))
		}
		sb.WriteString("</ul>")
	}
	sb.WriteString("<h2>Parameters</h2><table>")
	for _, k := range sortedAnyKeys(r.Params) {
		fmt.Fprintf(sb, "<tr><td>%s</td><td>%s</td></tr>", esc(k), esc(fmt.Sprint(r.Params[k])))
	}
	sb.WriteString("</table></body></html>\n")
}

func sortedAnyKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

// histogramSVG draws counts over a logarithmic millisecond axis, with the
// p50/p99/max marked.
func histogramSVG(sb *strings.Builder, s hist.Snap) {
	lo := math.Max(float64(max(s.Min, 1))/1e6, 1e-3)
	hi := math.Max(float64(s.Max)/1e6, lo*1.5)
	llo, lhi := math.Log10(lo)-0.05, math.Log10(hi)+0.05
	const bins = 60
	var counts [bins]uint64
	for _, b := range s.Buckets {
		mid := (float64(hist.Lower(int(b[0]))) + float64(hist.Upper(int(b[0])))) / 2 / 1e6
		x := (math.Log10(math.Max(mid, lo)) - llo) / (lhi - llo)
		i := min(max(int(x*bins), 0), bins-1)
		counts[i] += b[1]
	}
	var top uint64
	for _, c := range counts {
		top = max(top, c)
	}
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	fmt.Fprintf(sb, `<svg width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" font-size="11">`, chartW, chartH, chartW, chartH)
	bw := pw / bins
	for i, c := range counts {
		if c == 0 {
			continue
		}
		h := float64(c) / float64(top) * ph
		fmt.Fprintf(sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1f77b4"><title>%d</title></rect>`,
			padL+float64(i)*bw, padT+ph-h, math.Max(bw-1, 1), h, c)
	}
	xOf := func(ms float64) float64 { return padL + (math.Log10(ms)-llo)/(lhi-llo)*pw }
	// decade ticks
	for d := math.Floor(llo); d <= math.Ceil(lhi); d++ {
		v := math.Pow(10, d)
		x := xOf(v)
		if x < padL || x > padL+pw {
			continue
		}
		fmt.Fprintf(sb, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#999"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`,
			x, padT, x, padT+ph+4, x, padT+ph+16, tickLabel(v))
	}
	for i, m := range []struct {
		name string
		v    float64
		c    string
	}{{"p50", float64(s.Quantile(0.5)) / 1e6, "#2ca02c"}, {"p99", float64(s.Quantile(0.99)) / 1e6, "#ff7f0e"}, {"max", float64(s.Max) / 1e6, "#d62728"}} {
		if m.v <= 0 {
			continue
		}
		x := xOf(math.Max(m.v, lo))
		// labels on three rows, left of the line when it is near the right edge
		anchor, tx := "start", x+3
		if x > padL+pw*0.75 {
			anchor, tx = "end", x-3
		}
		fmt.Fprintf(sb, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="4 3"/><text x="%.1f" y="%d" fill="%s" text-anchor="%s">%s %s ms</text>`,
			x, padT, x, padT+ph, m.c, tx, padT+10+12*i, m.c, anchor, m.name, fmtVal(m.v))
	}
	fmt.Fprintf(sb, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`, padL, padT+ph, padL+pw, padT+ph)
	fmt.Fprintf(sb, `<text x="%.1f" y="%d" text-anchor="middle">latency (ms, log scale)</text>`, padL+pw/2, chartH-6)
	fmt.Fprintf(sb, `<text x="12" y="%.1f" transform="rotate(-90 12 %.1f)" text-anchor="middle">count (max %d)</text></svg>`, padT+ph/2, padT+ph/2, top)
}

func tickLabel(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%g", v)
	}
	return fmt.Sprintf("%.3g", v)
}

type line struct {
	name  string
	color string
	pts   [][2]float64
}

func lineSVG(sb *strings.Builder, xl, yl string, lines []line) {
	var xmax, ymax float64
	for _, l := range lines {
		for _, p := range l.pts {
			xmax = math.Max(xmax, p[0])
			ymax = math.Max(ymax, p[1])
		}
	}
	if xmax == 0 {
		xmax = 1
	}
	if ymax == 0 {
		ymax = 1
	}
	ymax = niceCeil(ymax)
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	fmt.Fprintf(sb, `<svg width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" font-size="11">`, chartW, chartH, chartW, chartH)
	for i := 0; i <= 4; i++ {
		y := padT + ph - float64(i)/4*ph
		fmt.Fprintf(sb, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, y, padL+pw, y, padL-4, y+4, fmtVal(ymax*float64(i)/4))
		x := padL + float64(i)/4*pw
		fmt.Fprintf(sb, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, padT+ph+16, fmtVal(xmax*float64(i)/4))
	}
	for li, l := range lines {
		var pts strings.Builder
		for _, p := range l.pts {
			fmt.Fprintf(&pts, "%.1f,%.1f ", padL+p[0]/xmax*pw, padT+ph-p[1]/ymax*ph)
		}
		if len(l.pts) == 1 {
			p := l.pts[0]
			fmt.Fprintf(sb, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, padL+p[0]/xmax*pw, padT+ph-p[1]/ymax*ph, l.color)
		}
		dash := ""
		if li > 0 {
			dash = ` stroke-dasharray="6 3"` // later lines dashed, so a line lying on another stays visible
		}
		fmt.Fprintf(sb, `<polyline fill="none" stroke="%s" stroke-width="1.6"%s points="%s"/>`, l.color, dash, pts.String())
		fmt.Fprintf(sb, `<text x="%.1f" y="%d" fill="%s">%s</text>`, padL+10+float64(li)*180, padT-8, l.color, html.EscapeString(l.name))
	}
	fmt.Fprintf(sb, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`, padL, padT+ph, padL+pw, padT+ph)
	fmt.Fprintf(sb, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, padL+pw/2, chartH-6, html.EscapeString(xl))
	fmt.Fprintf(sb, `<text x="12" y="%.1f" transform="rotate(-90 12 %.1f)" text-anchor="middle">%s</text></svg>`, padT+ph/2, padT+ph/2, html.EscapeString(yl))
}

func niceCeil(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}
