package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// cell is one endpoint at one connection count, measured on some servers.
type cell struct {
	endpoint string
	conns    int
	servers  []string               // in the order of the first round
	runs     map[string][]runResult // by server, a run a round
	errors   int                    // in every run, warm-ups included
	problem  string                 // the first run with errors, described
}

// report is everything a measurement found.
type report struct {
	opts       options
	conditions conditions
	main, log  []*cell // the comparison with the yardsticks; the log's cost
	compare    []*cell // the mock against the -compare binary
}

// conditions describes the machine during the measurement.
type conditions struct {
	start, end           time.Time
	loadStart, loadEnd   string // /proc/loadavg
	cpu, goVersion, wrkV string
	cpus                 int
	mockFlags            string
	compared             string // the -compare binary's path, "" for none
}

// measure starts the servers, measures every cell and stops them.
func measure(ctx context.Context, opts options, progress io.Writer) (*report, error) {
	dir, err := os.MkdirTemp("", "mxauth-outside-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	static, dynamic, err := writeScripts(dir)
	if err != nil {
		return nil, err
	}
	rep := &report{opts: opts, conditions: conditions{
		start: time.Now(), loadStart: readFirstLine("/proc/loadavg"), cpu: cpuModel(),
		goVersion: runtime.Version(), cpus: runtime.NumCPU(), wrkV: wrkVersion(opts.wrk),
	}}
	servers, err := startServers(ctx, opts.mockserver, opts.compare, dir, len(opts.logCost) > 0)
	if err != nil {
		return nil, err
	}
	defer stopServers(servers)
	rep.conditions.mockFlags = strings.Join(servers[mockSrv].cmd.Args[1:], " ")
	rep.conditions.compared = opts.compare

	m := &measurer{ctx: ctx, opts: opts, servers: servers, dir: dir, static: static, dynamic: dynamic, progress: progress}
	for _, ep := range opts.endpoints {
		for _, conns := range opts.conns {
			c, err := m.cell(ep, conns, []string{ceiling, base, mockSrv})
			if err != nil {
				return nil, err
			}
			rep.main = append(rep.main, c)
		}
	}
	for _, side := range []struct {
		endpoints []string
		other     string
		into      *[]*cell
	}{{opts.logCost, mockLog, &rep.log}, {opts.compareEndpoints, mockCmp, &rep.compare}} {
		for _, ep := range side.endpoints {
			for _, conns := range sideConns {
				c, err := m.cell(ep, conns, []string{mockSrv, side.other})
				if err != nil {
					return nil, err
				}
				*side.into = append(*side.into, c)
			}
		}
	}
	rep.conditions.end, rep.conditions.loadEnd = time.Now(), readFirstLine("/proc/loadavg")
	return rep, nil
}

// measurer runs the cells of one measurement.
type measurer struct {
	ctx             context.Context
	opts            options
	servers         map[string]*server
	dir             string
	static, dynamic string // the wrk scripts
	progress        io.Writer
}

// cell measures endpoint at conns on the named servers: a warm-up run
// each, then rounds in which each runs once, the order reversing every
// round.
func (m *measurer) cell(endpoint string, conns int, names []string) (*cell, error) {
	c := &cell{endpoint: endpoint, conns: conns, servers: names, runs: make(map[string][]runResult)}
	if m.opts.warmup > 0 {
		for _, name := range names {
			if _, err := m.run(c, name, m.opts.warmup); err != nil {
				return nil, err
			}
		}
	}
	order := slices.Clone(names)
	for round := range m.opts.rounds {
		for _, name := range order {
			r, err := m.run(c, name, m.opts.duration)
			if err != nil {
				return nil, err
			}
			c.runs[name] = append(c.runs[name], r)
			fmt.Fprintf(m.progress, "%-13s conns=%-3d round %d  %-9s %8.0f req/s  p50 %-8s p99 %-8s CPU %-7s a request  errors %d\n",
				endpoint, conns, round+1, name, r.ReqPerSec, r.P50, r.P99, r.CPUPerReq, r.Errors)
		}
		slices.Reverse(order)
	}
	return c, nil
}

// run prepares the sessions of one run on the named server and runs wrk.
// Errors in the answers are counted in c; an error returned is one that
// stops the measurement (a server or wrk failing).
func (m *measurer) run(c *cell, name string, d time.Duration) (runResult, error) {
	if err := m.ctx.Err(); err != nil {
		return runResult{}, err
	}
	s := m.servers[name]
	select {
	case <-s.exited:
		return runResult{}, fmt.Errorf("%s has ended; its log is in %s", name, m.dir)
	default:
	}
	spec, err := s.prepare(m.ctx, c.endpoint, c.conns, m.dir)
	if err != nil {
		return runResult{}, fmt.Errorf("%s, %s: %w", name, c.endpoint, err)
	}
	script := m.static
	if spec.scriptArgs != nil {
		script = m.dynamic
	}
	cpuBefore, cpuKnown := s.cpuTime()
	r, err := runWrk(m.ctx, m.opts.wrk, s.url+spec.path, c.conns, d, spec.wrkArgs, script, spec.scriptArgs)
	if err != nil {
		return runResult{}, fmt.Errorf("%s, %s at %d connections: %w", name, c.endpoint, c.conns, err)
	}
	if cpuAfter, ok := s.cpuTime(); ok && cpuKnown && r.Requests > 0 {
		r.CPUPerReq = (cpuAfter - cpuBefore) / time.Duration(r.Requests)
	}
	if r.Errors > 0 {
		c.errors += r.Errors
		if c.problem == "" {
			c.problem = fmt.Sprintf("%s: %d errors in %d requests", name, r.Errors, r.Requests)
		}
	}
	return r, nil
}

// readFirstLine returns the first line of a file, or "?".
func readFirstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "?".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// wrkVersion returns the first line wrk -v prints (it exits 1 after it).
func wrkVersion(wrkBin string) string {
	out, _ := exec.Command(wrkBin, "-v").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
