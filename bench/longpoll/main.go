// Command longpoll measures what an idle /sync long-poll costs the mock
// homeserver in memory, from outside its process (issue 19: 10,000 of them
// held at no more than 32 KiB each, the connection included).
//
// It starts the mockserver binary on loopback, logs alice in, takes a
// since token from a first /sync, reads the server's resident set size
// (VmRSS in /proc/PID/status), then opens -polls connections, each sending
// one /sync with that since token and a long timeout, and reads nothing
// back. Once the server's RSS has settled, it checks that no poll has been
// answered (each is still waiting), reads the RSS again and reports the
// growth a poll: the goroutine, buffers, request and waiter of each, all
// that the server process holds for it in user space. (The kernel's
// socket buffers are not in any process's RSS.)
//
// Usage:
//
//	longpoll -mockserver BIN [-polls N] [-max-bytes B] [-timeout D]
//
// Flags:
//
//	-mockserver BIN  the mockserver binary (required; go build ./cmd/mockserver)
//	-polls N         long-polls to hold (default 10000)
//	-max-bytes B     the most RSS growth a poll may cost (default 32768)
//	-timeout D       the whole measurement's bound (default 2m)
//
// Each poll is a connection of its own, so the process needs a little more
// than N file descriptors, and the server as many: Go raises its soft
// RLIMIT_NOFILE to the hard limit, so `ulimit -Hn` must exceed N.
//
// Exit codes: 0 the cost a poll is within -max-bytes; 1 it is not, or the
// measurement failed; 2 bad flags.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// The user of the default scenario whose polls are held.
const (
	pollUser     = "alice"
	pollPassword = "wonderland"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	mockserver string
	polls      int
	maxBytes   int64
	timeout    time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	flags := flag.NewFlagSet("longpoll", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&o.mockserver, "mockserver", "", "the mockserver `binary`")
	flags.IntVar(&o.polls, "polls", 10000, "long-polls to hold")
	flags.Int64Var(&o.maxBytes, "max-bytes", 32<<10, "the most RSS growth a poll may cost, in bytes")
	flags.DurationVar(&o.timeout, "timeout", 2*time.Minute, "the whole measurement's bound")
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}
	switch {
	case o.mockserver == "":
		fmt.Fprintln(stderr, "longpoll: -mockserver is required")
		return exitUsage
	case o.polls < 1 || o.polls > 100000:
		fmt.Fprintln(stderr, "longpoll: -polls must be from 1 to 100000")
		return exitUsage
	}
	if err := checkFileLimit(o.polls); err != nil {
		fmt.Fprintln(stderr, "longpoll:", err)
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	r, err := measure(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "longpoll:", err)
		return exitFailed
	}
	perPoll := (r.after - r.before) / int64(o.polls)
	fmt.Fprintf(stdout, "%d idle /sync long-polls held: mockserver RSS %.1f MiB before, %.1f MiB with them; %.1f KiB a poll (target ≤ %.1f KiB): %s\n",
		o.polls, mib(r.before), mib(r.after), float64(perPoll)/1024, float64(o.maxBytes)/1024, verdict(perPoll <= o.maxBytes))
	if perPoll > o.maxBytes {
		return exitFailed
	}
	return exitOK
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}

// checkFileLimit raises this process's soft file limit as far as its hard
// one (Go does so at start already) and checks that polls connections fit.
func checkFileLimit(polls int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	need := uint64(polls) + 64
	if lim.Cur < need && lim.Max >= need {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if lim.Max < need {
		return fmt.Errorf("%d polls need about %d file descriptors here and as many in the server; the hard limit is %d (ulimit -Hn)", polls, need, lim.Max)
	}
	return nil
}

// rss is the server's resident set size before and with the polls.
type rss struct{ before, after int64 }

// measure runs the server, holds the polls and reads its RSS.
func measure(ctx context.Context, o options, progress io.Writer) (rss, error) {
	srv, base, err := startMock(ctx, o.mockserver)
	if err != nil {
		return rss{}, err
	}
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	token, err := login(ctx, base)
	if err != nil {
		return rss{}, fmt.Errorf("login: %w", err)
	}
	since, err := firstSync(ctx, base, token)
	if err != nil {
		return rss{}, fmt.Errorf("first /sync: %w", err)
	}
	pid := srv.Process.Pid
	before, err := settledRSS(ctx, pid)
	if err != nil {
		return rss{}, err
	}
	fmt.Fprintf(progress, "longpoll: server RSS %.1f MiB; opening %d long-polls\n", mib(before), o.polls)
	u, _ := neturl.Parse(base)
	request := []byte("GET /_matrix/client/v3/sync?timeout=600000&since=" + neturl.QueryEscape(since) + " HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\nAuthorization: Bearer " + token + "\r\n\r\n")
	conns, err := openPolls(ctx, u.Host, request, o.polls)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return rss{}, err
	}
	after, err := settledRSS(ctx, pid)
	if err != nil {
		return rss{}, err
	}
	if answered := answeredPolls(conns); answered > 0 {
		return rss{}, fmt.Errorf("%d of %d polls were answered instead of held (is since %q current, and /sync a long-poll?)", answered, len(conns), since)
	}
	return rss{before: before, after: after}, nil
}

// startMock runs the mockserver on a free loopback port and returns its
// base URL, printed on its first line.
func startMock(ctx context.Context, bin string) (*exec.Cmd, string, error) {
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-log-level", "warn")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, "", fmt.Errorf("mockserver printed no URL: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	base := strings.TrimSpace(line)
	if u, err := neturl.Parse(base); err != nil || !isLoopback(u.Hostname()) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, "", fmt.Errorf("mockserver printed %q, not a loopback URL", base)
	}
	return cmd, base, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// login logs alice in with her password and returns the access token.
func login(ctx context.Context, base string) (string, error) {
	body := `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"` + pollUser + `"},"password":"` + pollPassword + `"}`
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if err := call(ctx, http.MethodPost, base+"/_matrix/client/v3/login", "", strings.NewReader(body), &answer); err != nil {
		return "", err
	}
	return answer.AccessToken, nil
}

// firstSync returns the next_batch of a /sync that does not wait.
func firstSync(ctx context.Context, base, token string) (string, error) {
	var answer struct {
		NextBatch string `json:"next_batch"`
	}
	if err := call(ctx, http.MethodGet, base+"/_matrix/client/v3/sync?timeout=0", token, nil, &answer); err != nil {
		return "", err
	}
	if answer.NextBatch == "" {
		return "", errors.New("no next_batch")
	}
	return answer.NextBatch, nil
}

// call sends a request and decodes a 200 answer into v.
func call(ctx context.Context, method, url, token string, body io.Reader, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

// openPolls opens n connections to addr, a few at a time, and sends
// request on each.
func openPolls(ctx context.Context, addr string, request []byte, n int) ([]net.Conn, error) {
	const parallel = 64 // well inside the listen backlog
	conns := make([]net.Conn, n)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	next := make(chan int)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d net.Dialer
			for i := range next {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err == nil {
					_, err = c.Write(request)
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("poll %d: %w", i, err):
					default:
					}
					if c != nil {
						c.Close()
					}
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	var open []net.Conn
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	select {
	case err := <-errs:
		return open, err
	default:
	}
	return open, nil
}

// answeredPolls counts the connections on which the server has sent
// something: a held poll sends nothing.
func answeredPolls(conns []net.Conn) int {
	answered := 0
	buf := make([]byte, 1)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if n, err := c.Read(buf); n > 0 || !isTimeout(err) {
			answered++
		}
	}
	return answered
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// settledRSS reads the process's RSS every half second until three
// readings in a row are within 1% of each other.
func settledRSS(ctx context.Context, pid int) (int64, error) {
	var last []int64
	for {
		v, err := readRSS(pid)
		if err != nil {
			return 0, err
		}
		last = append(last, v)
		if n := len(last); n >= 3 {
			lo, hi := min(last[n-1], last[n-2], last[n-3]), max(last[n-1], last[n-2], last[n-3])
			if float64(hi-lo) <= 0.01*float64(hi) {
				return v, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("the server's RSS did not settle: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// readRSS returns VmRSS of /proc/PID/status in bytes.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the server's RSS (Linux /proc): %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}
