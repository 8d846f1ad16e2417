package intents

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration, located in its file.
type Problem struct {
	File string
	Line int
	Col  int
	// What says what is wrong; Fix says how to put it right.
	What string
	Fix  string
}

// String renders the problem as FILE:LINE:COL: what is wrong — how to fix it.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(p.What)
	if p.Fix != "" {
		b.WriteString(" — ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// ConfigError is returned by Parse and Load when a configuration is invalid; it lists every problem
// found, in file order, so that one run of `attune check` shows them all.
type ConfigError struct {
	Problems []Problem
}

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems for one file.
type problems struct {
	file string
	list []Problem
}

func (ps *problems) add(line, col int, what, fix string) {
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Col: col, What: what, Fix: fix})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	sort.SliceStable(ps.list, func(i, j int) bool {
		a, b := ps.list[i], ps.list[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return &ConfigError{Problems: ps.list}
}
