package config

import (
	"fmt"
	"strings"
)

// suggest completes an "unknown key" message: the section the key belongs
// in when it is a known misplacement, else the nearest known key when it is
// close enough to be a typo, else the list of keys allowed here.
func suggest(key string, known []string, hints map[string]string) string {
	if section, ok := hints[key]; ok {
		return fmt.Sprintf("; it belongs under %s", section)
	}
	best, bestDist := "", -1
	for _, k := range known {
		if d := distance(normalizeKey(key), normalizeKey(k)); bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	// One edit in short keys, two in longer ones: beyond that a suggestion
	// is more often wrong than helpful.
	limit := 1
	if len(best) > 4 {
		limit = 2
	}
	if best != "" && bestDist <= limit {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	if len(known) == 0 {
		return ""
	}
	return fmt.Sprintf(" (expected one of %s)", strings.Join(known, ", "))
}

// normalizeKey makes case and -/_ differences free, since Local-Port and
// local_port are the same mistake.
func normalizeKey(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "-", "_")
}

// distance is the optimal string alignment distance: Levenshtein plus
// adjacent transpositions, the commonest typo ("reigon").
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Keys are short; cap the work for pathological input.
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 30
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
