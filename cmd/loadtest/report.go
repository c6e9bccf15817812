package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// report is everything one run measured.
type report struct {
	Go         string `json:"go"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUs       int    `json:"cpus"`
	Duration   string `json:"duration"` // each server's measured time in each cell
	Warmup     string `json:"warmup"`   // each server's, before each cell
	Rounds     int    `json:"rounds"`   // slices, alternating the servers, in each cell
	Sessions   int    `json:"sessions"` // other live sessions in each server
	Rows       []row  `json:"rows"`
}

// row is one cell: an endpoint at a concurrency level, on both servers.
type row struct {
	Endpoint string `json:"endpoint"`
	Conns    int    `json:"conns"`
	Mock     result `json:"mock"`
	Baseline result `json:"baseline"`
	// RatioReqPerSec is the mock's req/s over the baseline's: above 1, the
	// mock is faster.
	RatioReqPerSec float64 `json:"ratio_req_per_sec"`
	// RatioP99 is the mock's p99 over the baseline's: above 1, the mock is
	// slower.
	RatioP99 float64 `json:"ratio_p99"`
}

// newRow returns the row of a cell, with its ratios.
func newRow(endpoint string, conns int, m, b result) row {
	r := row{Endpoint: endpoint, Conns: conns, Mock: m, Baseline: b}
	if b.ReqPerSec > 0 {
		r.RatioReqPerSec = m.ReqPerSec / b.ReqPerSec
	}
	if b.P99 > 0 {
		r.RatioP99 = float64(m.P99) / float64(b.P99)
	}
	return r
}

// errors returns the number of failed requests in the whole run.
func (rep *report) errors() int {
	n := 0
	for _, r := range rep.Rows {
		n += r.Mock.Errors + r.Baseline.Errors
	}
	return n
}

// writeJSON prints the report as one indented JSON object.
func (rep *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeMarkdown prints the report as a line on the setup and a Markdown
// table, then the first error of each cell that had any.
func (rep *report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, GOMAXPROCS %d, %d CPUs; in each cell, each server measured for %s in %d alternating slices after a %s warm-up; %d other live sessions in each server.\n\n",
		rep.Go, rep.GOMAXPROCS, rep.CPUs, rep.Duration, rep.Rounds, rep.Warmup, rep.Sessions)
	b.WriteString("| endpoint | conns | mock req/s | mock p50 | mock p99 | baseline req/s | baseline p50 | baseline p99 | ratio req/s | ratio p99 | errors (mock/baseline) |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rep.Rows {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %s | %s | %.0f | %s | %s | %.2f× | %.2f× | %d/%d |\n",
			r.Endpoint, r.Conns,
			r.Mock.ReqPerSec, formatLatency(r.Mock.P50), formatLatency(r.Mock.P99),
			r.Baseline.ReqPerSec, formatLatency(r.Baseline.P50), formatLatency(r.Baseline.P99),
			r.RatioReqPerSec, r.RatioP99, r.Mock.Errors, r.Baseline.Errors)
	}
	for _, r := range rep.Rows {
		for _, c := range []struct {
			name string
			res  result
		}{{"mock", r.Mock}, {"baseline", r.Baseline}} {
			if c.res.FirstError != "" {
				fmt.Fprintf(&b, "\n%s %s conns=%d: %d errors, first: %s\n", c.name, r.Endpoint, r.Conns, c.res.Errors, c.res.FirstError)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
