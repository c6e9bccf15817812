package specgen

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file run the generator over every release of the Matrix
// spec found in ../shared/upstream-spec (or $MXAUTH_UPSTREAM_SPEC), and skip
// what is absent. Each release is generated once per test binary and shared.

// upstreamRoot returns the folder holding the upstream releases.
func upstreamRoot() string {
	if root := os.Getenv("MXAUTH_UPSTREAM_SPEC"); root != "" {
		return root
	}
	return filepath.Join("..", "..", "..", "shared", "upstream-spec")
}

var releaseName = regexp.MustCompile(`^v(\d+)\.(\d+)$`)

// upstreamReleases lists the releases that have a client-server folder,
// oldest first, skipping the test when there are none.
func upstreamReleases(t testing.TB) []string {
	t.Helper()
	entries, _ := os.ReadDir(upstreamRoot())
	var releases []string
	for _, e := range entries {
		if !releaseName.MatchString(e.Name()) {
			continue
		}
		if _, err := os.Stat(filepath.Join(upstreamRoot(), e.Name(), "api", "client-server")); err == nil {
			releases = append(releases, e.Name())
		}
	}
	if len(releases) == 0 {
		t.Skipf("no upstream releases in %s; set MXAUTH_UPSTREAM_SPEC to the folder holding v1.18/api/client-server", upstreamRoot())
	}
	slices.SortFunc(releases, func(a, b string) int {
		va, _ := parseMatrixVersion(a)
		vb, _ := parseMatrixVersion(b)
		switch {
		case va.after(vb):
			return 1
		case vb.after(va):
			return -1
		}
		return 0
	})
	return releases
}

// subsetSources returns the sources of a subset of a release: "auth" (the
// authentication files the release has) or "folder" (all of it).
func subsetSources(t testing.TB, release, subset string) []Source {
	t.Helper()
	dir := upstreamDir(t, release)
	if subset == "folder" {
		src, err := DirSource(dir, dir)
		if err != nil {
			t.Fatal(err)
		}
		return []Source{src}
	}
	var sources []Source
	for _, name := range authFiles {
		src, err := DirSource(filepath.Join(dir, name+".yaml"), dir)
		if err != nil {
			continue // not in this release (oauth_server_metadata before v1.15)
		}
		sources = append(sources, src)
	}
	return sources
}

// generation is one generated package and how long it took.
type generation struct {
	code []byte
	took time.Duration
	err  error
}

var (
	generationsMu sync.Mutex
	generations   = map[string]generation{}
)

// generateRelease generates a subset of a release for a Matrix version
// ("" for all), once per test binary.
func generateRelease(t testing.TB, release, subset, version string) generation {
	t.Helper()
	key := release + "/" + subset + "/" + version
	generationsMu.Lock()
	defer generationsMu.Unlock()
	if g, ok := generations[key]; ok {
		return g
	}
	start := time.Now()
	code, err := Generate(context.Background(), Options{
		Sources: subsetSources(t, release, subset), Package: packageName(release, subset),
		Parts: allParts, MatrixVersion: version,
	})
	g := generation{code, time.Since(start), err}
	generations[key] = g
	return g
}

// packageName is the Go package of a release's subset: v1_18_folder.
func packageName(release, subset string) string {
	return strings.ReplaceAll(release, ".", "_") + "_" + subset
}

// TestUpstreamCompatibility is the compatibility matrix: every release found,
// its authentication files and its whole client-server folder, generated
// (types, client, strict server) and built and vetted together, with the
// newest release's auth files for Matrix 1.2 as well (the most that
// -matrix-version takes out of them).
func TestUpstreamCompatibility(t *testing.T) {
	releases := upstreamReleases(t)
	type entry struct{ release, subset, version string }
	var matrix []entry
	for _, release := range releases {
		matrix = append(matrix, entry{release, "auth", ""}, entry{release, "folder", ""})
	}
	matrix = append(matrix, entry{releases[len(releases)-1], "auth", "1.2"})
	var pkgs []scratchPackage
	for _, e := range matrix {
		name := e.release + "/" + e.subset
		pkg := packageName(e.release, e.subset)
		if e.version != "" {
			name += "/for-" + e.version
			pkg += "_for_" + strings.ReplaceAll(e.version, ".", "_")
		}
		t.Run(name, func(t *testing.T) {
			g := generateRelease(t, e.release, e.subset, e.version)
			if g.err != nil {
				t.Fatal(g.err)
			}
			t.Logf("%d operations, %d lines, generated in %v", strings.Count(string(g.code), "\toperation.Info{"), strings.Count(string(g.code), "\n"), g.took.Round(time.Millisecond))
			pkgs = append(pkgs, scratchPackage{name: pkg, code: g.code})
		})
	}
	checkPackages(t, pkgs)
}

// TestUpstreamNamesAcrossReleases checks that the Swagger 2.0 releases give
// the same names as the OpenAPI 3.1 ones: every type, function, method and
// constant that the oldest release generates for an operation the newest
// one also has, the newest release generates too, unless the spec itself
// changed there (the list below, each with the change).
func TestUpstreamNamesAcrossReleases(t *testing.T) {
	releases := upstreamReleases(t)
	oldest, newest := releases[0], releases[len(releases)-1]
	if oldest != "v1.7" || newest != "v1.18" {
		t.Skipf("the known spec changes are listed for v1.7 against v1.18; have %s and %s", oldest, newest)
	}
	// What v1.7 generates and v1.18 does not, for operations both have,
	// because the spec changed.
	specChanges := map[string]string{
		"LoginRequestType":                 "login's type lost its enum",
		"LoginRequestType.Valid":           "login's type lost its enum",
		"MLoginPassword":                   "login's type lost its enum",
		"MLoginToken":                      "login's type lost its enum",
		"GetAccountDataPerRoom400Response": "the 400 answer gained the Error schema (GetAccountDataPerRoom400JSONResponse)",
		"GetAccountDataPerRoom400Response.VisitGetAccountDataPerRoomResponse": "the 400 answer gained the Error schema",
		"GetRoomTagsResponseTagsValue":                                        "tags use the shared Tag schema",
		"GetRoomTagsResponseTagsValue.Get":                                    "tags use the shared Tag schema",
		"GetRoomTagsResponseTagsValue.Set":                                    "tags use the shared Tag schema",
		"GetRoomTagsResponseTagsValue.MarshalJSON":                            "tags use the shared Tag schema",
		"GetRoomTagsResponseTagsValue.UnmarshalJSON":                          "tags use the shared Tag schema",
		"SetRoomTagRequest":                                                   "tags use the shared Tag schema",
		"SetRoomTagRequest.Get":                                               "tags use the shared Tag schema",
		"SetRoomTagRequest.Set":                                               "tags use the shared Tag schema",
		"SetRoomTagRequest.MarshalJSON":                                       "tags use the shared Tag schema",
		"SetRoomTagRequest.UnmarshalJSON":                                     "tags use the shared Tag schema",
		"InviteBy3PIDRequest":                                                 "the body uses the shared invite_3pid schema (Invite3Pid)",
		"CreateRoomRequestInvite3PidItem":                                     "invite_3pid uses the shared Invite3Pid schema",
		"GetCapabilitiesResponseCapabilitiesMChangePassword":                  "m.change_password uses the shared BooleanCapability schema",
		"DeleteRoomKeysResponse":                                              "the answer uses the shared RoomKeysUpdateResponse schema",
		"DeleteRoomKeysByRoomIDResponse":                                      "the answer uses the shared RoomKeysUpdateResponse schema",
		"DeleteRoomKeyBySessionIDResponse":                                    "the answer uses the shared RoomKeysUpdateResponse schema",
		"PutRoomKeysResponse":                                                 "the answer uses the shared RoomKeysUpdateResponse schema",
		"PutRoomKeysByRoomIDResponse":                                         "the answer uses the shared RoomKeysUpdateResponse schema",
		"PutRoomKeyBySessionIDResponse":                                       "the answer uses the shared RoomKeysUpdateResponse schema",
		"ProtocolFieldTypesValue":                                             "v1.18 takes field types from the shared ProtocolBase (ProtocolBaseFieldTypesValue)",
		"PublicRoomsResponseChunkItem":                                        "chunk items use the shared PublishedRoomsChunk schema",
		"ProtocolMetadata":                                                    "getProtocols describes its map inline, not with protocol_metadata.yaml",
		"PublicRoomsChunk":                                                    "retitled PublishedRoomsChunk",
		"Crop":                                                                "v1.11's authenticated thumbnail endpoint has the same method enum, so both enums are prefixed",
		"Scale":                                                               "v1.11's authenticated thumbnail endpoint has the same method enum, so both enums are prefixed",
	}
	seen := map[string]bool{}
	for _, subset := range []string{"auth", "folder"} {
		t.Run(subset, func(t *testing.T) {
			old, cur := generateRelease(t, oldest, subset, ""), generateRelease(t, newest, subset, "")
			if old.err != nil || cur.err != nil {
				t.Fatal(old.err, cur.err)
			}
			oldNames, curNames := declaredNames(old.code), declaredNames(cur.code)
			oldOps, curOps := strictOperations(old.code), strictOperations(cur.code)
			if len(oldOps) == 0 || len(curOps) == 0 {
				t.Fatal("no operations found in the strict server interface")
			}
			allOps := append(slices.Clone(oldOps), curOps...)
			var common int
			for _, op := range oldOps {
				if slices.Contains(curOps, op) {
					common++
				}
			}
			var unexpected []string
			for _, name := range sortedKeys(oldNames) {
				if _, ok := curNames[name]; ok {
					continue
				}
				if op := owner(oldNames[name], allOps); op != "" && !slices.Contains(curOps, op) {
					continue // an operation the newer release does not have
				}
				if _, known := specChanges[name]; known {
					seen[name] = true
				} else {
					unexpected = append(unexpected, name)
				}
			}
			t.Logf("%d operations in common", common)
			if len(unexpected) > 0 {
				t.Errorf("%s generates these for operations %s has too, and %s does not:\n  %s", oldest, newest, newest, strings.Join(unexpected, "\n  "))
			}
		})
	}
	var stale []string
	for _, name := range sortedKeys(specChanges) {
		if !seen[name] {
			stale = append(stale, name)
		}
	}
	if len(stale) > 0 && !t.Failed() {
		t.Errorf("listed as spec changes, but both releases generate them (or neither): %s", strings.Join(stale, ", "))
	}
}

var (
	topLevelName = regexp.MustCompile(`(?m)^(?:type|func|var|const) ([A-Za-z_][A-Za-z0-9_]*)`)
	methodName   = regexp.MustCompile(`(?m)^func \([a-z]+ \*?([A-Za-z_][A-Za-z0-9_]*)\) ([A-Za-z_][A-Za-z0-9_]*)`)
	constName    = regexp.MustCompile(`(?m)^\t([A-Za-z_][A-Za-z0-9_]*) +([A-Za-z_][A-Za-z0-9_]*) = `)
	strictMethod = regexp.MustCompile(`(?m)^\t([A-Za-z0-9_]+)\(ctx context\.Context, request ([A-Za-z0-9_]+)RequestObject\)`)
)

// declaredNames returns the names gofmt'd generated code declares (types,
// functions, variables, enum constants, and methods as "Type.Method"), each
// with the name that tells which operation it belongs to: itself, a
// method's "Type.Method", or a constant's type.
func declaredNames(code []byte) map[string]string {
	names := map[string]string{}
	for _, m := range topLevelName.FindAllSubmatch(code, -1) {
		names[string(m[1])] = string(m[1])
	}
	for _, m := range methodName.FindAllSubmatch(code, -1) {
		name := string(m[1]) + "." + string(m[2])
		names[name] = name
	}
	for _, m := range constName.FindAllSubmatch(code, -1) {
		names[string(m[1])] = string(m[2])
	}
	return names
}

// strictOperations returns the Go names of the operations in the strict
// server interface.
func strictOperations(code []byte) []string {
	var ops []string
	for _, m := range strictMethod.FindAllSubmatch(code, -1) {
		ops = append(ops, string(m[1]))
	}
	slices.Sort(ops)
	return slices.Compact(ops)
}

// owner returns the operation a generated name belongs to: the longest
// operation name it starts with (after New, Parse or Visit, or after the
// receiver of a client, server or canned-answer method), or "".
func owner(name string, ops []string) string {
	recv, method, isMethod := strings.Cut(name, ".")
	subject := recv
	if isMethod && slices.Contains([]string{"API", "Client", "ClientWithResponses", "ServerInterfaceWrapper", "strictHandler", "CannedServer", "cannedAnswer"}, recv) {
		subject = method
	}
	best := ""
	for _, op := range ops {
		for _, prefix := range []string{"", "New", "Parse", "Visit"} {
			if strings.HasPrefix(subject, prefix+op) && len(op) > len(best) {
				best = op
			}
		}
	}
	return best
}

// TestUpstreamMatrixVersion generates the upstream v1.18 auth files for
// older Matrix versions: what x-addedInMatrixVersion marks as newer is left
// out, and what carries no mark stays.
func TestUpstreamMatrixVersion(t *testing.T) {
	upstreamDir(t, "v1.18")
	for _, tc := range []struct {
		version       string
		present, gone []string
	}{
		{"1.2",
			[]string{`ID: "login"`, `ID: "getTokenOwner"`, `ID: "register"`, "json:\"access_token\"", "json:\"device_id", "json:\"user_id\""},
			[]string{`ID: "refresh"`, "json:\"refresh_token", "json:\"expires_in_ms", "RefreshWithResponse("}},
		{"1.3",
			[]string{`ID: "refresh"`, "json:\"refresh_token", "json:\"expires_in_ms", "RefreshToken *bool", "RefreshWithResponse("},
			nil},
		{"1.17",
			[]string{`ID: "getAuthMetadata"`, "json:\"issuer\"", "json:\"authorization_endpoint\""},
			[]string{"json:\"account_management_uri", "json:\"account_management_actions_supported"}},
		{"1.18",
			[]string{"json:\"account_management_uri", "json:\"account_management_actions_supported", `ID: "refresh"`},
			nil},
	} {
		t.Run(tc.version, func(t *testing.T) {
			g := generateRelease(t, "v1.18", "auth", tc.version)
			if g.err != nil {
				t.Fatal(g.err)
			}
			code := string(g.code)
			for _, want := range tc.present {
				if !strings.Contains(code, want) {
					t.Errorf("for %s the code lacks %s", tc.version, want)
				}
			}
			for _, gone := range tc.gone {
				if strings.Contains(code, gone) {
					t.Errorf("for %s the code still has %s", tc.version, gone)
				}
			}
		})
	}
	// TestUpstreamCompatibility builds and vets the code for 1.2.
}
