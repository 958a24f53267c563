// dockerfile-lint checks Dockerfiles with BuildKit's own linter (the checks `docker build --check` runs), without
// a Docker engine: it parses and converts the Dockerfile but resolves no image and builds nothing.
// Usage: dockerfile-lint Dockerfile...   Exits 1 on any warning or error.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	digest "github.com/opencontainers/go-digest"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
)

// offlineResolver answers every base image with an empty linux/amd64 config: the checks are about the Dockerfile,
// and there is no registry to ask.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	config := []byte(`{"architecture":"amd64","os":"linux","config":{}}`)
	return ref, digest.FromBytes(config), config, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-lint Dockerfile...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		dt, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		sourceMap := llb.NewSourceMap(nil, path, "Dockerfile", dt)
		sourceMap.Definition = &llb.Definition{} // the linter records it; there is no build state to describe
		results, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
			SourceMap:    sourceMap,
			MetaResolver: offlineResolver{},
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		for _, w := range results.Warnings {
			line := 0
			if len(w.Location.Ranges) > 0 {
				line = int(w.Location.Ranges[0].Start.Line)
			}
			fmt.Printf("%s:%d: %s: %s (%s)\n", path, line, w.RuleName, w.Detail, w.URL)
			failed = true
		}
		if results.Error != nil {
			fmt.Printf("%s: error: %s\n", path, results.Error.Message)
			failed = true
		}
		if !failed {
			fmt.Printf("%s: no lint findings\n", path)
		}
	}
	if failed {
		os.Exit(1)
	}
}
