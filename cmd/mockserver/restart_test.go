package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// runBinary starts the built command with args and returns its URL.
func runBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("no URL: %v\n%s", err, stderr.String())
	}
	return cmd, strings.TrimSpace(line), &stderr
}

// TestSIGTERMDuringLoadLosesNothing: clients log in while the server is
// stopped with SIGTERM; every session that was answered 200 still works
// after a restart from the state file.
func TestSIGTERMDuringLoadLosesNothing(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mockserver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state.json")
	cmd, url, stderr := runBinary(t, bin, "-state", state, "-state-interval", "0")

	var mu sync.Mutex
	var tokens []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	enough := make(chan struct{})
	var once sync.Once
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range 8 {
		wg.Go(func() {
			body, _ := json.Marshal(loginBody("alice", "wonderland"))
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(url+"/_matrix/client/v3/login", "application/json", bytes.NewReader(body))
				if err != nil {
					return // the server has gone
				}
				var out map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					continue
				}
				mu.Lock()
				tokens = append(tokens, out["access_token"].(string))
				if len(tokens) >= 200 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		})
	}
	<-enough
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}

	cmd, url, stderr = runBinary(t, bin, "-state", state)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for i, tok := range tokens {
		if status, body := post(t, url+"/_matrix/client/v3/account/whoami", tok, nil); status != 200 {
			t.Fatalf("session %d of %d lost after the restart: %d %v\n%s", i, len(tokens), status, body, stderr.String())
		}
	}
	t.Logf("%d sessions answered 200 before SIGTERM; all work after the restart", len(tokens))
}

func TestDamagedStateFileStopsTheStart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(state, []byte(`{"format":"mxauth-mock-state","version":2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	if code := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-state", state}, new(bytes.Buffer), &stderr); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "newer mxauth") {
		t.Fatalf("stderr %q", stderr.String())
	}
}
