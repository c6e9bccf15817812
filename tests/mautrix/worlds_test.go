package mautrix_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// worldScenario is the file the worlds of these tests are made from:
// alice on a virtual clock at epoch, access tokens living one minute.
const worldScenario = "../../scenarios/short-expiry.yaml"

const worldsControlToken = "worlds-control"

// controlJSON sends a control request with the control token and decodes
// the JSON answer into out (when not nil); an answer other than want is
// an error.
func controlJSON(method, url string, body string, want int, out any) error {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+worldsControlToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s, want %d", method, url, resp.StatusCode, raw.String(), want)
	}
	if out != nil {
		return json.Unmarshal(raw.Bytes(), out)
	}
	return nil
}

// unknownToken reports whether err is 401 M_UNKNOWN_TOKEN with the given
// soft_logout, as mautrix reports it.
func unknownToken(err error, soft bool) error {
	var he mautrix.HTTPError
	if !errors.As(err, &he) || he.RespError == nil || he.RespError.ErrCode != mautrix.MUnknownToken.ErrCode || he.Response.StatusCode != 401 {
		return fmt.Errorf("got %v, want 401 M_UNKNOWN_TOKEN", err)
	}
	if got, _ := he.RespError.ExtraData["soft_logout"].(bool); got != soft {
		return fmt.Errorf("soft_logout %v, want %v", got, soft)
	}
	return nil
}

// worldClient is what one test suite of a farm does with its own world:
// it makes the world over the control API, logs alice in with mautrix-go
// at the world's base URL, and, once ready is released, moves its world's
// clock past the access token's expiry, sees the token expire, refreshes
// and goes on, then checks its clock and journal saw only its own doings.
func worldClient(base, scenario string, ready *sync.WaitGroup, start <-chan struct{}) (string, error) {
	var w struct {
		ID         string `json:"id"`
		BaseURL    string `json:"base_url"`
		ControlURL string `json:"control_url"`
	}
	err := controlJSON("POST", base+"/_mock/worlds?name=suite", scenario, http.StatusCreated, &w)
	ready.Done()
	if err != nil {
		return "", err
	}
	ctx := context.Background()
	cli, err := mautrix.NewClient(w.BaseURL, "", "")
	if err != nil {
		return w.ID, err
	}
	login, err := cli.Login(ctx, passwordLogin("SUITE", true))
	if err != nil {
		return w.ID, fmt.Errorf("login: %w", err)
	}
	<-start // every world is made and logged in: now all at once
	if _, err := cli.Whoami(ctx); err != nil {
		return w.ID, fmt.Errorf("whoami: %w", err)
	}
	if err := controlJSON("POST", w.ControlURL+"/clock/advance", `{"by":"2m"}`, 200, nil); err != nil {
		return w.ID, err
	}
	if _, err := cli.Whoami(ctx); unknownToken(err, true) != nil {
		return w.ID, fmt.Errorf("whoami after the clock moved: %w", unknownToken(err, true))
	}
	var r respRefresh
	if _, err := cli.MakeRequest(ctx, http.MethodPost, cli.BuildClientURL("v3", "refresh"), map[string]string{"refresh_token": login.RefreshToken}, &r); err != nil {
		return w.ID, fmt.Errorf("refresh: %w", err)
	}
	cli.AccessToken = r.AccessToken
	if who, err := cli.Whoami(ctx); err != nil || who.DeviceID != "SUITE" {
		return w.ID, fmt.Errorf("whoami after refresh: %v %v", who, err)
	}
	var clk struct {
		Now time.Time `json:"now"`
	}
	if err := controlJSON("GET", w.ControlURL+"/clock", "", 200, &clk); err != nil {
		return w.ID, err
	}
	if want := epoch.Add(2 * time.Minute); !clk.Now.Equal(want) {
		return w.ID, fmt.Errorf("the world's clock reads %v, want %v: another world's clock moved it", clk.Now, want)
	}
	var page struct {
		Entries []journal.Entry `json:"entries"`
	}
	if err := controlJSON("GET", w.ControlURL+"/journal", "", 200, &page); err != nil {
		return w.ID, err
	}
	var ops []string
	for _, e := range page.Entries {
		ops = append(ops, fmt.Sprintf("%s %d", e.Operation, e.Status))
	}
	if got, want := strings.Join(ops, ", "), "login 200, getTokenOwner 200, getTokenOwner 401, refresh 200, getTokenOwner 200"; got != want {
		return w.ID, fmt.Errorf("the world's journal: %s, want %s", got, want)
	}
	return w.ID, nil
}

// TestSixteenWorldsAtOnce is a CI farm on one mockserver: 16 suites at
// once, each with its own world and its own mautrix-go client, each moving
// its own clock through an access token's expiry, none seeing another.
func TestSixteenWorldsAtOnce(t *testing.T) {
	const suites = 16
	hs := mock.Start(t, mock.WithControl(worldsControlToken), mock.WithVirtualClock(epoch))
	scenario, err := os.ReadFile(worldScenario)
	if err != nil {
		t.Fatal(err)
	}
	var ready, done sync.WaitGroup
	ready.Add(suites)
	start := make(chan struct{})
	ids := make([]string, suites)
	errs := make([]error, suites)
	for i := range suites {
		done.Go(func() { ids[i], errs[i] = worldClient(hs.URL, string(scenario), &ready, start) })
	}
	ready.Wait()
	close(start)
	done.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("suite %d (world %s): %v", i, ids[i], err)
		}
		if seen[ids[i]] {
			t.Errorf("world ID %s handed out twice", ids[i])
		}
		seen[ids[i]] = true
	}
	if n := len(hs.Worlds()); n != suites {
		t.Errorf("%d worlds, want %d", n, suites)
	}
	if now := hs.Clock().Now(); !now.Equal(epoch) {
		t.Errorf("the default world's clock moved to %v", now)
	}
	if n := hs.Journal().Count(journal.Filter{}); n != 0 {
		t.Errorf("the default world's journal has %d entries", n)
	}
}

// TestTwoWorldsWithMautrix: two worlds of one server, made in Go from the
// same scenario, each with a mautrix-go client at once; their clocks move
// apart, one is reset, the other dropped, and each client sees only its
// own world.
func TestTwoWorldsWithMautrix(t *testing.T) {
	hs := startHS(t)
	worlds := make([]*mock.World, 2)
	clients := make([]*mautrix.Client, 2)
	for i := range worlds {
		w, err := hs.NewWorld(mock.WithScenario(worldScenario))
		if err != nil {
			t.Fatal(err)
		}
		worlds[i] = w
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	advance := []time.Duration{2 * time.Minute, 30 * time.Second} // past the expiry, and short of it
	for i, w := range worlds {
		wg.Go(func() {
			errs[i] = func() error {
				cli, err := mautrix.NewClient(w.URL, "", "")
				if err != nil {
					return err
				}
				clients[i] = cli
				if _, err := cli.Login(context.Background(), passwordLogin(id.DeviceID("PHONE"), true)); err != nil {
					return err
				}
				for range 10 {
					if _, err := cli.Whoami(context.Background()); err != nil {
						return err
					}
				}
				w.Clock().Advance(advance[i])
				_, err = cli.Whoami(context.Background())
				if i == 0 {
					return unknownToken(err, true)
				}
				return err
			}()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("world %d: %v", i, err)
		}
	}
	for i, w := range worlds {
		if n := w.Journal().Count(journal.Filter{Operation: "getTokenOwner", Status: 200}); n != 10+i {
			t.Fatalf("world %d journal: %d successful whoamis, want %d", i, n, 10+i)
		}
		if got := w.Users(); len(got) != 1 || got[0] != string(aliceID) {
			t.Fatalf("world %d users: %v", i, got)
		}
	}
	if n := hs.Journal().Count(journal.Filter{}); n != 0 {
		t.Fatalf("the default world saw %d requests", n)
	}

	// Resetting the first world ends its client's session; the second's
	// goes on. Dropping the second leaves the first.
	if err := worlds[0].Reset(); err != nil {
		t.Fatal(err)
	}
	_, err := clients[0].Whoami(t.Context())
	if err := unknownToken(err, false); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	whoami(t, clients[1], "PHONE")
	if err := worlds[1].Drop(); err != nil {
		t.Fatal(err)
	}
	_, err = clients[1].Whoami(t.Context())
	wantError(t, err, mautrix.MNotFound, http.StatusNotFound)
	login := passwordLogin("PHONE", false)
	if _, err := clients[0].Login(t.Context(), login); err != nil {
		t.Fatalf("login in the world that stays: %v", err)
	}
	whoami(t, clients[0], "PHONE")
}
