package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// target is what the mock must reach against the ceiling (issue 19): a
// share of its requests per second, with a p99 at most maxP99 times its.
type target struct {
	minReqPerSec, maxP99 float64
}

// targetFor returns the target of a cell, if it has one.
func targetFor(endpoint string, conns int) (target, bool) {
	switch endpoint {
	case "whoami":
		return target{0.8, 1.5}, conns == 2 || conns == 16
	case "login", "refresh", "oauth-refresh":
		return target{0.5, 1.5}, true
	}
	return target{}, false
}

// ratios returns, round by round, f of a's run over f of b's.
func (c *cell) ratios(a, b string, f func(runResult) float64) []float64 {
	var out []float64
	for i := range min(len(c.runs[a]), len(c.runs[b])) {
		out = append(out, f(c.runs[a][i])/f(c.runs[b][i]))
	}
	return out
}

func reqPerSec(r runResult) float64 { return r.ReqPerSec }
func p50(r runResult) float64       { return float64(r.P50) }
func p99(r runResult) float64       { return float64(r.P99) }
func cpu(r runResult) float64       { return float64(r.CPUPerReq) }

// median returns the median of xs (the mean of the middle two for an even
// count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// of returns f of every run of server in c.
func (c *cell) of(server string, f func(runResult) float64) []float64 {
	var out []float64
	for _, r := range c.runs[server] {
		out = append(out, f(r))
	}
	return out
}

// formatRatio writes the median of ratios and, with more than one, their
// range: "0.62× (0.58–0.65)".
func formatRatio(ratios []float64) string {
	if len(ratios) == 0 {
		return "–"
	}
	s := fmt.Sprintf("%.2f×", median(ratios))
	if len(ratios) > 1 {
		s += fmt.Sprintf(" (%.2f–%.2f)", slices.Min(ratios), slices.Max(ratios))
	}
	return s
}

// formatLatency writes a latency the way wrk measures it, to the
// microsecond.
func formatLatency(ns float64) string {
	d := time.Duration(ns)
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// medians writes the medians of f over the runs of each server, formatted,
// separated by slashes.
func (c *cell) medians(f func(runResult) float64, format func(float64) string, servers ...string) string {
	var parts []string
	for _, s := range servers {
		parts = append(parts, format(median(c.of(s, f))))
	}
	return strings.Join(parts, " / ")
}

// writeTable writes a Markdown table, the first column left-aligned and
// the others right-aligned, but for a "target" column.
func writeTable(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n|", strings.Join(header, " | "))
	for i, h := range header {
		if i == 0 || strings.HasPrefix(h, "target") {
			fmt.Fprint(w, " --- |")
		} else {
			fmt.Fprint(w, " ---: |")
		}
	}
	fmt.Fprintln(w)
	for _, row := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

// formatReqPerSec writes requests per second, whole.
func formatReqPerSec(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) }

// formatCPU writes a CPU time a request in microseconds; "–" when unknown.
func formatCPU(ns float64) string {
	if ns == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", ns/1e3)
}

// failedCells counts the cells with errors.
func (r *report) failedCells() int {
	n := 0
	for _, c := range slices.Concat(r.main, r.log, r.compare) {
		if c.errors > 0 {
			n++
		}
	}
	return n
}

// writeMarkdown writes the report: the conditions, the table against the
// yardsticks, and the log's cost.
func (r *report) writeMarkdown(w io.Writer) {
	c, o := r.conditions, r.opts
	fmt.Fprintf(w, "Run of %s to %s UTC; %s, %d CPUs (%s); /proc/loadavg `%s` at the start, `%s` at the end; %s.\n\n",
		c.start.UTC().Format("2006-01-02 15:04"), c.end.UTC().Format("15:04"), c.goVersion, c.cpus, c.cpu, c.loadStart, c.loadEnd, c.wrkV)
	fmt.Fprintf(w, "Command: `%s`. In each cell, each server: a %s warm-up run, then %d measured runs of `wrk -t1 -cN -d%s`, the servers in turns (order reversed every round). Mock: `mockserver %s`.\n\n",
		strings.Join(append([]string{"bench/outside.sh"}, o.args...), " "), o.warmup, o.rounds, o.duration, c.mockFlags)
	fmt.Fprintln(w, "Figures are medians of the rounds; ratios are taken within each round, median (min–max of the rounds). Req/s ratios above 1, p99 and CPU ratios below 1 favour the mock. CPU a request: the server process's user and system time during the run (/proc/PID/stat) over the requests it answered.")
	fmt.Fprintln(w)
	if len(r.main) > 0 {
		var rows [][]string
		for _, cl := range r.main {
			rows = append(rows, []string{cl.endpoint, strconv.Itoa(cl.conns),
				cl.medians(reqPerSec, formatReqPerSec, ceiling, base, mockSrv),
				formatRatio(cl.ratios(mockSrv, ceiling, reqPerSec)), formatRatio(cl.ratios(mockSrv, base, reqPerSec)),
				cl.medians(p50, formatLatency, ceiling, base, mockSrv),
				cl.medians(p99, formatLatency, ceiling, base, mockSrv), formatRatio(cl.ratios(mockSrv, ceiling, p99)),
				cl.medians(cpu, formatCPU, ceiling, base, mockSrv), formatRatio(cl.ratios(mockSrv, ceiling, cpu)),
				cl.verdict(), strconv.Itoa(cl.errors)})
		}
		writeTable(w, []string{"endpoint", "conns", "req/s ceiling / baseline / mock", "mock / ceiling req/s", "mock / baseline req/s",
			"p50 ceiling / baseline / mock", "p99 ceiling / baseline / mock", "mock / ceiling p99",
			"CPU µs a request ceiling / baseline / mock", "mock / ceiling CPU", "target (vs ceiling)", "errors"}, rows)
	}
	if len(r.log) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "What the request log costs: the mock with `-log-level info` (a line a request, standard error to a file) against `-log-level warn` (no line for an answered request), in turns as above.")
		fmt.Fprintln(w)
		writePairTable(w, r.log, mockLog, "warn", "info")
	}
	if len(r.compare) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "The mock against another build (`-compare`: %s), run with the same flags, in turns as above.\n", r.conditions.compared)
		fmt.Fprintln(w)
		writePairTable(w, r.compare, mockCmp, "mock", "compared")
	}
	for _, cl := range slices.Concat(r.main, r.log, r.compare) {
		if cl.problem != "" {
			fmt.Fprintf(w, "\n**Errors** in %s at %d connections: %s; these figures are not measurements.\n", cl.endpoint, cl.conns, cl.problem)
		}
	}
}

// writePairTable writes a side table: the mock, called mockName, against
// other, called otherName, cell by cell, with other's figures over the
// mock's.
func writePairTable(w io.Writer, cells []*cell, other, mockName, otherName string) {
	var rows [][]string
	for _, cl := range cells {
		rows = append(rows, []string{cl.endpoint, strconv.Itoa(cl.conns),
			cl.medians(reqPerSec, formatReqPerSec, mockSrv, other), formatRatio(cl.ratios(other, mockSrv, reqPerSec)),
			cl.medians(p99, formatLatency, mockSrv, other), formatRatio(cl.ratios(other, mockSrv, p99)),
			cl.medians(cpu, formatCPU, mockSrv, other), formatRatio(cl.ratios(other, mockSrv, cpu)),
			strconv.Itoa(cl.errors)})
	}
	pair := mockName + " / " + otherName
	ratio := otherName + " / " + mockName
	writeTable(w, []string{"endpoint", "conns", "req/s " + pair, ratio + " req/s", "p99 " + pair, ratio + " p99",
		"CPU µs a request " + pair, ratio + " CPU", "errors"}, rows)
}

// verdict says whether the median ratios of the cell meet its target.
func (c *cell) verdict() string {
	t, ok := targetFor(c.endpoint, c.conns)
	if !ok {
		return ""
	}
	rps, lat := median(c.ratios(mockSrv, ceiling, reqPerSec)), median(c.ratios(mockSrv, ceiling, p99))
	met := "met"
	if rps < t.minReqPerSec || lat > t.maxP99 {
		met = "**not met**"
	}
	return fmt.Sprintf("≥ %.1f×, p99 ≤ %.1f×: %s", t.minReqPerSec, t.maxP99, met)
}
