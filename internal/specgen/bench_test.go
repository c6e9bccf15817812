package specgen

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/mxauth/mxauth/specs"
)

var allParts = Parts{Types: true, Client: true, Server: true}

// BenchmarkGenerateSpecs generates from all of mxauth's bundled specs.
func BenchmarkGenerateSpecs(b *testing.B) {
	var sources []Source
	for _, folder := range specs.Folders {
		sources = append(sources, Source{FS: specs.FS, Path: folder})
	}
	benchmarkGenerate(b, Options{Sources: sources, Package: "matrix", Parts: allParts})
}

// BenchmarkGenerateUpstreamAuth runs the whole pipeline (load eleven files
// with their $refs, merge, hoist, emit) on the upstream v1.18 auth files.
func BenchmarkGenerateUpstreamAuth(b *testing.B) {
	benchmarkGenerate(b, Options{Sources: upstreamAuthSources(b), Package: "cs", Parts: allParts})
}

// BenchmarkOapiCodegenUpstreamAuth is the baseline for the benchmark above:
// what oapi-codegen alone does with the same document once it is merged into
// one file: load it, generate and format.
func BenchmarkOapiCodegenUpstreamAuth(b *testing.B) {
	benchmarkOapiCodegen(b, upstreamAuthSources(b))
}

// benchmarkOapiCodegen measures oapi-codegen alone on the sources merged
// into one document by Document: load the document, generate, format.
func benchmarkOapiCodegen(b *testing.B, sources []Source) {
	doc, _, err := Document(context.Background(), Options{Sources: sources})
	if err != nil {
		b.Fatal(err)
	}
	merged, err := doc.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		doc, err := openapi3.NewLoader().LoadFromData(merged)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := codegen.Generate(doc, codegenConfig("cs", allParts)); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkGenerate(b *testing.B, opts Options) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateUpstreamFolder runs the whole pipeline on the whole
// upstream v1.18 client-server folder (71 files).
func BenchmarkGenerateUpstreamFolder(b *testing.B) {
	benchmarkGenerate(b, Options{Sources: subsetSources(b, "v1.18", "folder"), Package: "cs", Parts: allParts})
}

// BenchmarkOapiCodegenUpstreamFolder is the baseline for the benchmark
// above: oapi-codegen alone on the same folder once merged into one document.
func BenchmarkOapiCodegenUpstreamFolder(b *testing.B) {
	benchmarkOapiCodegen(b, subsetSources(b, "v1.18", "folder"))
}

// BenchmarkGenerateRelease times the compatibility matrix: each release
// found, its auth files and its whole client-server folder.
func BenchmarkGenerateRelease(b *testing.B) {
	for _, release := range upstreamReleases(b) {
		for _, subset := range []string{"auth", "folder"} {
			b.Run(release+"/"+subset, func(b *testing.B) {
				benchmarkGenerate(b, Options{Sources: subsetSources(b, release, subset), Package: "cs", Parts: allParts})
			})
		}
	}
}
