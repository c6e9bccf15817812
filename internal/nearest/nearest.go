// Package nearest finds the names closest to a mistyped one, for error
// messages that say "did you mean …?".
package nearest

import (
	"sort"
	"strings"
)

// Names returns up to three of known closest to name, best first: those
// within a small edit distance of it (case aside), and those that contain
// it. extra adds candidates by another route, such as an operation whose
// path holds name; they come after the close ones. Nil when nothing is
// close.
func Names(name string, known []string, extra ...string) []string {
	type scored struct {
		name string
		dist int
	}
	var near []scored
	seen := map[string]bool{}
	lower := strings.ToLower(name)
	for _, k := range known {
		d := Distance(lower, strings.ToLower(k))
		if d <= max(2, len(name)/3) || strings.Contains(strings.ToLower(k), lower) {
			near = append(near, scored{k, d})
			seen[k] = true
		}
	}
	sort.SliceStable(near, func(i, j int) bool { return near[i].dist < near[j].dist })
	for _, k := range extra {
		if !seen[k] {
			near = append(near, scored{k, 0})
			seen[k] = true
		}
	}
	var names []string
	for i := 0; i < len(near) && i < 3; i++ {
		names = append(names, near[i].name)
	}
	return names
}

// Distance is the Levenshtein distance between a and b.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
