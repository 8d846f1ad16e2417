package cues

import (
	"math"
	"sort"
	"strings"

	"github.com/attune-chat/attune/intents/tone/internal/feat"
)

// Cue is one compiled support cue.
type Cue struct {
	// Phrase is the cue as written in the table.
	Phrase string
	// Words are the phrase's normalised words.
	Words []string
	// W is the cue's logit contribution to each tone outside a negation scope.
	W [NumTones]float64
	// Negatable cues turn into a weaker opposite inside a negation scope.
	Negatable bool
	// Primary is the tone the cue mainly speaks to; its evidence is shown even when it pushed
	// that tone down ("not worried").
	Primary int
}

// Hit is one matched cue: words [From,To) of the message.
type Hit struct {
	Cue      int32
	From, To int32
	Negated  bool
	// Emphasis is 1.25 when the cue's first word is in capitals, else 1.
	Emphasis float64
}

// Set is the compiled cue table; it is immutable and safe for concurrent use.
type Set struct {
	List  []Cue
	first map[string][]int32 // first word -> indexes into List, longest phrase first
}

// New compiles the cue table.
func New() *Set {
	s := &Set{first: map[string][]int32{}}
	for _, c := range table {
		m := Cue{Phrase: c.phrase, W: c.w, Negatable: c.negatable, Words: strings.Fields(strings.ToLower(c.phrase))}
		if len(m.Words) == 0 {
			continue
		}
		// A complaint or a fear argues against delight even when "!!" or "thanks" suggest it.
		if m.W[Del] == 0 {
			m.W[Del] = -0.5*math.Max(0, m.W[Frus]) - 0.4*math.Max(0, m.W[Anx])
		}
		for t := 0; t < NumTones; t++ {
			if math.Abs(m.W[t]) > math.Abs(m.W[m.Primary]) {
				m.Primary = t
			}
		}
		s.List = append(s.List, m)
	}
	for i, m := range s.List {
		s.first[m.Words[0]] = append(s.first[m.Words[0]], int32(i))
	}
	for k, list := range s.first {
		sort.SliceStable(list, func(x, y int) bool { return len(s.List[list[x]].Words) > len(s.List[list[y]].Words) })
		s.first[k] = list
	}
	return s
}

// Match appends the cues found in toks to buf: at each word the longest phrase wins and the
// words it covers are skipped.
func (s *Set) Match(toks []feat.Token, buf []Hit) []Hit {
	for i := 0; i < len(toks); {
		matched := 0
		for _, ci := range s.first[toks[i].Text] {
			m := &s.List[ci]
			if i+len(m.Words) > len(toks) {
				continue
			}
			ok := true
			for k := 1; k < len(m.Words); k++ {
				if toks[i+k].Text != m.Words[k] {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			h := Hit{Cue: ci, From: int32(i), To: int32(i + len(m.Words)), Negated: m.Negatable && toks[i].Neg, Emphasis: 1}
			if toks[i].Upper {
				h.Emphasis = 1.25
			}
			buf = append(buf, h)
			matched = len(m.Words)
			break
		}
		if matched > 0 {
			i += matched
		} else {
			i++
		}
	}
	return buf
}

// Weight is a hit's logit contribution to tone t. Inside a negation scope a positive cue
// argues weakly for the opposite ("not worried") and a negative one is dropped.
func (s *Set) Weight(h Hit, t int) float64 {
	w := s.List[h.Cue].W[t]
	if h.Negated {
		if w <= 0 {
			return 0
		}
		w = -0.6 * w
	}
	return w * h.Emphasis
}

// LearnedFloor is the lowest a learned logit (relative to its decision point) counts for a
// tone that the support cues argue for. The model learned from Reddit comments, where "still
// waiting" or "my booking" are mostly calm; its confidence that such a message is calm must
// not cancel a cue it never saw labelled. So when a tone's cues sum to at least
// -LearnedFloor, the tone is present whatever the model says.
const LearnedFloor = -3.0

// Combine adds the cue logit cue to the learned logit z of one tone, flooring z at
// LearnedFloor when the cues argue for the tone.
func Combine(z, cue float64) float64 {
	if cue > 0 && z < LearnedFloor {
		z = LearnedFloor
	}
	return z + cue
}

// Logits sums the contribution of hits to every tone.
func (s *Set) Logits(hits []Hit) [NumTones]float64 {
	var z [NumTones]float64
	for _, h := range hits {
		for t := 0; t < NumTones; t++ {
			z[t] += s.Weight(h, t)
		}
	}
	return z
}
