package intents

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Phrase is one example phrasing, with where it stands in the file so that problems and
// explanations can point at it.
type Phrase struct {
	Text string
	Line int
	Col  int
}

// Phrases is a list of example phrasings. In YAML it is either a block of "- example" lines (as in
// Rasa's training data) or an ordinary YAML list of strings.
type Phrases []Phrase

// Texts returns the phrasings as plain strings.
func (p Phrases) Texts() []string {
	out := make([]string, len(p))
	for i, ph := range p {
		out[i] = ph.Text
	}
	return out
}

// UnmarshalYAML accepts both the block form and the list form. Problems come back as a
// *yaml.TypeError so that decoding goes on and every problem in the file is reported at once.
func (p *Phrases) UnmarshalYAML(node *yaml.Node) error {
	switch node.Kind {
	case yaml.SequenceNode:
		items, err := stringItems(node, "each example must be a plain string — write it as \"- your example\"")
		*p = append(*p, items...)
		return err
	case yaml.ScalarNode:
		if node.Tag == "!!null" {
			return nil
		}
		if node.Style&yaml.FoldedStyle != 0 {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf(
				"line %d:%d: examples after \">\" are folded into one line — use \"|\" so that each \"- example\" line stays separate", node.Line, node.Column)}}
		}
		if node.Style&yaml.LiteralStyle == 0 {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf(
				"line %d:%d: examples must be a list — write them on their own lines after \"|\", each starting with \"- \"", node.Line, node.Column)}}
		}
		// In a block scalar the content starts on the line after the "|" indicator, one text line per
		// file line, which is what lets us point at the exact line of a bad example.
		var bad []string
		for i, raw := range strings.Split(node.Value, "\n") {
			line := strings.TrimSpace(raw)
			if line == "" {
				continue
			}
			at := node.Line + 1 + i
			text, ok := strings.CutPrefix(line, "-")
			if !ok {
				bad = append(bad, fmt.Sprintf("line %d: example %q does not start with \"- \" — put \"- \" before each example", at, line))
				continue
			}
			*p = append(*p, Phrase{Text: strings.TrimSpace(text), Line: at})
		}
		if bad != nil {
			return &yaml.TypeError{Errors: bad}
		}
		return nil
	default:
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d:%d: examples must be a list of strings, not a mapping — write \"- your example\" lines", node.Line, node.Column)}}
	}
}

// Variant is one wording of an answer; one variant is picked per reply.
type Variant = Phrase

// stringItems reads a YAML list of strings with their positions; an item that is not a string is
// reported with complaint (as a *yaml.TypeError, so that decoding goes on).
func stringItems(node *yaml.Node, complaint string) ([]Phrase, error) {
	var out []Phrase
	var bad []string
	for _, item := range node.Content {
		if item.Kind != yaml.ScalarNode {
			bad = append(bad, fmt.Sprintf("line %d:%d: %s", item.Line, item.Column, complaint))
			continue
		}
		out = append(out, Phrase{Text: strings.TrimSpace(item.Value), Line: item.Line, Col: item.Column})
	}
	if bad != nil {
		return out, &yaml.TypeError{Errors: bad}
	}
	return out, nil
}

// Variants is an answer given either as one string or as a list of alternative wordings.
type Variants []Variant

// UnmarshalYAML accepts a string or a list of strings.
func (v *Variants) UnmarshalYAML(node *yaml.Node) error {
	switch node.Kind {
	case yaml.ScalarNode:
		if node.Tag == "!!null" {
			return nil
		}
		line, col := node.Line, node.Column
		if node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			// The text starts on the line after "|", at an indentation Parse fills in.
			line, col = line+1, 0
		}
		*v = Variants{{Text: strings.TrimSpace(node.Value), Line: line, Col: col}}
		return nil
	case yaml.SequenceNode:
		items, err := stringItems(node, "each answer variant must be plain text — write \"- your answer\", without text: or a nested list")
		*v = append(*v, items...)
		return err
	default:
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d:%d: an answer must be a string or a list of strings", node.Line, node.Column)}}
	}
}

// Texts returns the variants as plain strings.
func (v Variants) Texts() []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = x.Text
	}
	return out
}

// First returns the first variant's text, or "".
func (v Variants) First() string {
	if len(v) == 0 {
		return ""
	}
	return v[0].Text
}
