package control

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mxauth/mxauth/mock/internal/api"
)

// worldID returns the ID of the world a control request names: by its ID
// (/_mock/worlds/ID/…) or by its path (/_worlds/SERVER/LOCAL/_mock/…).
func worldID(r *http.Request) string {
	if id := r.PathValue("world"); id != "" {
		return id
	}
	return r.PathValue("server") + "-" + r.PathValue("local")
}

// errNoSuchWorld answers a control request for a world that does not exist.
var errNoSuchWorld = api.Errorf(http.StatusNotFound, "M_NOT_FOUND", "No such world: it was dropped, expired when idle, or never existed")

// maxWorldName bounds the label given with ?name=.
const maxWorldName = 100

// worldState describes a world: where its clients and its control API
// reach it (the control URL followed by /clock/advance and so on;
// /_mock/worlds/ID works as well).
type worldState struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	BaseURL    string `json:"base_url"`
	ControlURL string `json:"control_url"`
}

func (c *controlAPI) worldState(w World, r *http.Request) worldState {
	base, info := api.BaseURL(r, c.cfg.PublicURL), w.Info()
	return worldState{
		ID: info.ID, Name: info.Name, BaseURL: api.WorldURL(base, info.Prefix),
		ControlURL: api.WorldURL(base, info.Prefix) + strings.TrimSuffix(api.ControlPrefix, "/"),
	}
}

// worldsOps adds the operations on the server's worlds: make, list,
// describe and drop them.
func (c *controlAPI) worldsOps() {
	c.mux.HandleFunc("POST "+api.ControlPrefix+"worlds", func(rw http.ResponseWriter, r *http.Request) {
		out, e := c.newWorld(r)
		reply(rw, http.StatusCreated, out, e)
	})
	c.mux.HandleFunc("GET "+api.ControlPrefix+"worlds", func(rw http.ResponseWriter, r *http.Request) {
		list := []worldState{}
		for _, w := range c.cfg.Server.Worlds() {
			list = append(list, c.worldState(w, r))
		}
		reply(rw, http.StatusOK, map[string]any{
			"server_id": c.cfg.ServerID, "max_worlds": c.cfg.MaxWorlds,
			"idle_lifetime_ms": c.cfg.IdleLifetime.Milliseconds(), "worlds": list,
		}, nil)
	})
	c.mux.HandleFunc("GET "+api.ControlPrefix+"worlds/{world}", c.inWorld(func(w World, r *http.Request) (any, *api.Error) {
		return c.worldState(w, r), nil
	}))
	drop := func(w World, _ *http.Request) (any, *api.Error) {
		if w.Info().Prefix == "" {
			return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "The default world cannot be dropped; reset it instead")
		}
		if w.Drop() != nil {
			return nil, errNoSuchWorld
		}
		return struct{}{}, nil
	}
	c.handle("DELETE", "world", drop) // {control_url}/world
	c.mux.HandleFunc("DELETE "+api.ControlPrefix+"worlds/{world}", c.inWorld(drop))
}

// newWorld makes a world set up by the scenario in the body (YAML), or as
// the server was started when the body is empty; ?name= labels it and
// names the scenario in error messages.
func (c *controlAPI) newWorld(r *http.Request) (any, *api.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, api.MaxBodyBytes))
	if err != nil {
		return nil, api.ErrTooLarge
	}
	name := r.URL.Query().Get("name")
	if len(name) > maxWorldName {
		return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", fmt.Sprintf("name must be at most %d bytes", maxWorldName))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = nil
	}
	w, err := c.cfg.Server.NewWorld(name, cmp.Or(name, "scenario.yaml"), body)
	switch {
	case errors.Is(err, ErrTooManyWorlds):
		return nil, api.Errorf(http.StatusServiceUnavailable, "M_RESOURCE_LIMIT_EXCEEDED",
			fmt.Sprintf("This server holds %d worlds, its limit (-max-worlds): drop one with DELETE /_mock/worlds/{id}, or wait for idle ones to be dropped (-world-idle-lifetime %v)", c.cfg.MaxWorlds, c.cfg.IdleLifetime))
	case err != nil:
		return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", err.Error())
	}
	return c.worldState(w, r), nil
}
