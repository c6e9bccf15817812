package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mxauth/mxauth/session"
)

// server is a server under test, running in a process of its own.
type server struct {
	name string
	url  string // base URL, on loopback
	cmd  *exec.Cmd
	// oauthClient is the mock's OAuth 2.0 client, registered once; nil on
	// the yardsticks.
	oauthClient *session.OAuthClient
	// room is the room of the send benchmark: on the mock one the bench
	// user created, on the yardsticks, which take any, yardstickRoom.
	room   string
	exited chan struct{} // closed once the process has ended
}

// startServer runs argv with its standard error in logFile, waits for the
// base URL it prints on its first line, and checks that it is a loopback
// one.
func startServer(name, logFile string, argv ...string) (*server, error) {
	logOut, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer logOut.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, exited: make(chan struct{})}
	firstLine := make(chan string, 1)
	go func() {
		lines := bufio.NewReader(stdout)
		line, _ := lines.ReadString('\n')
		firstLine <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, lines)
		_ = cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.url = <-firstLine:
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s printed no URL in 30s; its log is %s", name, logFile)
	}
	if err := checkLoopback(s.url); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// checkLoopback refuses any URL but http:// on a loopback IP address: the
// load must never leave the machine.
func checkLoopback(u string) error {
	parsed, err := neturl.Parse(u)
	if err != nil || parsed.Scheme != "http" {
		return fmt.Errorf("printed %q, not an http:// base URL", u)
	}
	if ip := net.ParseIP(parsed.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not on a loopback address", u)
	}
	return nil
}

// cpuTime returns the CPU time the process has used so far, user and
// system, from /proc/PID/stat (Linux; in its clock ticks, which are 1/100 s
// on every Linux that matters here); ok is false where there is no /proc.
func (s *server) cpuTime() (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	_, rest, ok := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14 of proc(5)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * (time.Second / clockTicks), true
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times.
const clockTicks = 100

// stop ends the process with SIGTERM (SIGKILL after 10s) and waits for it.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// startServers starts the ceiling and the baseline (this binary with
// -serve), the mock, when logged is set the mock with its request log on,
// and when compare is set that other mockserver binary, run as the mock.
// Their logs go to files in dir.
func startServers(ctx context.Context, mockserver, compare, dir string, logged bool) (map[string]*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	mockArgs := []string{mockserver, "-addr", "127.0.0.1:0", "-oauth-auto-approve", benchUser}
	argv := map[string][]string{
		ceiling: {self, "-serve", ceiling},
		base:    {self, "-serve", base},
		mockSrv: append(mockArgs, "-log-level", "warn"),
	}
	if logged {
		argv[mockLog] = append(mockArgs, "-log-level", "info")
	}
	if compare != "" {
		argv[mockCmp] = append([]string{compare}, argv[mockSrv][1:]...)
	}
	servers := make(map[string]*server)
	for name, a := range argv {
		s, err := startServer(name, filepath.Join(dir, strings.ReplaceAll(name, "+", "-")+".log"), a...)
		if err != nil {
			stopServers(servers)
			return nil, err
		}
		servers[name] = s
		s.room = yardstickRoom
		if name == mockSrv || name == mockLog || name == mockCmp {
			if s.oauthClient, err = registerClient(ctx, s.url); err != nil {
				stopServers(servers)
				return nil, fmt.Errorf("%s: OAuth client registration: %w", name, err)
			}
			if s.room, err = s.createRoom(ctx); err != nil {
				stopServers(servers)
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return servers, nil
}

// yardstickRoom is the room ID the send benchmark uses on the yardsticks.
const yardstickRoom = "!yardstick:" + serverName

// stopServers stops every server.
func stopServers(servers map[string]*server) {
	for _, s := range servers {
		s.stop()
	}
}

// setupClient sends the setup requests: never through a proxy, redirects
// not followed (the OAuth authorization's is read), loopback only.
var setupClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext},
	Timeout:   10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}
