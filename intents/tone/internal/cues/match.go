package cues

import (
	"math"
	"slices"
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
	List []Cue
	// first maps a first word's feat.Hash to the indexes into List of the cues starting with
	// it, longest phrase first. It is open-addressed on the hash Tokenize already computed,
	// because a string-keyed map lookup on every word was a tenth of the analyzer's time.
	first []firstSlot
	shift uint
}

type firstSlot struct {
	hash uint64
	word string // the first word itself: a hash collision must not match a cue
	// groups holds the longer cues by their second word, so that of the dozens of cues
	// starting with "for" or "still" only those sharing the message's next word are tried.
	groups []group
	// single is the one-word cue of this word, or -1; it is tried after every longer one.
	single int32
}

// group lists the cues sharing a first and second word, longest phrase first.
type group struct {
	second uint64 // feat.Hash of the second word
	cues   []int32
}

// lookup returns the slot of t's word, or nil.
func (s *Set) lookup(t *feat.Token) *firstSlot {
	for i := int((t.Hash * 0x9E3779B97F4A7C15) >> s.shift); ; i = (i + 1) & (len(s.first) - 1) {
		e := &s.first[i]
		if e.word == "" {
			return nil
		}
		if e.hash == t.Hash && e.word == t.Text {
			return e
		}
	}
}

// New compiles the cue table.
func New() *Set {
	s := &Set{}
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
	byFirst := map[string][]int32{}
	for i, m := range s.List {
		byFirst[m.Words[0]] = append(byFirst[m.Words[0]], int32(i))
	}
	size, shift := 1, uint(64)
	for size < 4*len(byFirst) {
		size <<= 1
		shift--
	}
	s.first, s.shift = make([]firstSlot, size), shift
	for w, list := range byFirst {
		sort.SliceStable(list, func(x, y int) bool { return len(s.List[list[x]].Words) > len(s.List[list[y]].Words) })
		h := feat.Hash(w)
		e := firstSlot{hash: h, word: w, single: -1}
		for _, ci := range list {
			m := &s.List[ci]
			if len(m.Words) == 1 {
				e.single = ci
				continue
			}
			h2 := feat.Hash(m.Words[1])
			g := slices.IndexFunc(e.groups, func(g group) bool { return g.second == h2 })
			if g < 0 {
				e.groups = append(e.groups, group{second: h2})
				g = len(e.groups) - 1
			}
			e.groups[g].cues = append(e.groups[g].cues, ci)
		}
		i := int((h * 0x9E3779B97F4A7C15) >> shift)
		for s.first[i].word != "" {
			i = (i + 1) & (size - 1)
		}
		s.first[i] = e
	}
	return s
}

// Match appends the cues found in toks (from feat.Tokenize, whose word hashes it uses) to buf:
// at each word the longest phrase wins and the words it covers are skipped.
func (s *Set) Match(toks []feat.Token, buf []Hit) []Hit {
	for i := 0; i < len(toks); {
		e := s.lookup(&toks[i])
		if e == nil {
			i++
			continue
		}
		ci := int32(-1)
		if i+1 < len(toks) {
			for _, g := range e.groups {
				if g.second == toks[i+1].Hash {
					ci = s.longest(toks, i, g.cues)
					break
				}
			}
		}
		if ci < 0 {
			ci = e.single
		}
		if ci < 0 {
			i++
			continue
		}
		n := len(s.List[ci].Words)
		h := Hit{Cue: ci, From: int32(i), To: int32(i + n), Negated: s.List[ci].Negatable && toks[i].Neg, Emphasis: 1}
		if toks[i].Upper {
			h.Emphasis = 1.25
		}
		buf = append(buf, h)
		i += n
	}
	return buf
}

// longest returns the first of cues (longest first) whose words all follow at toks[i], or -1.
func (s *Set) longest(toks []feat.Token, i int, cues []int32) int32 {
	for _, ci := range cues {
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
		if ok {
			return ci
		}
	}
	return -1
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
