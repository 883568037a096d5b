package config

import (
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a config file, located by position and key path.
// Line and Col are 1-based; 0 means unknown (a hand-built Config has no
// positions, and the YAML parser reports only a line for syntax errors).
type Error struct {
	File string
	Line int
	Col  int
	Path string // dotted key path, e.g. "targets.prod-aurora.via"; "" for the whole file
	Msg  string
}

// Error formats the problem as FILE:LINE:COL: PATH: MSG, leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	loc := []string{}
	if e.File != "" {
		loc = append(loc, e.File)
	}
	if e.Line > 0 {
		loc = append(loc, strconv.Itoa(e.Line))
		if e.Col > 0 {
			loc = append(loc, strconv.Itoa(e.Col))
		}
	}
	if len(loc) > 0 {
		b.WriteString(strings.Join(loc, ":"))
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, sorted by position, so that a
// user fixes them all in one pass instead of one per run.
type Errors []*Error

// Error puts one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find an individual *Error.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if a.Col != b.Col {
			return a.Col - b.Col
		}
		return strings.Compare(a.Path, b.Path)
	})
}
