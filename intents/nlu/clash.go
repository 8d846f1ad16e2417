package nlu

// Clash is a set of training texts that are identical after normalisation
// but carry different labels. Such a configuration cannot be trained: the
// model could not tell the labels apart on exactly the texts that define them.
type Clash struct {
	// Text is the normalised text the examples share.
	Text string
	// Indices are the positions of the clashing examples in the slice given
	// to Clashes, in increasing order.
	Indices []int
}

// Clashes returns the clashing groups of examples, in order of the first
// example of each group. Duplicates under one label are harmless and not
// reported; a group is reported with all of its members, including repeats
// under the same label, so that every line can be shown to the user.
func Clashes(examples []Example) []Clash {
	type group struct {
		indices []int
		mixed   bool
	}
	groups := map[string]*group{}
	var order []string
	for i, ex := range examples {
		key := Normalize(ex.Text)
		if key == "" {
			continue
		}
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
			order = append(order, key)
		} else if examples[g.indices[0]].Label != ex.Label {
			g.mixed = true
		}
		g.indices = append(g.indices, i)
	}
	var out []Clash
	for _, key := range order {
		if g := groups[key]; g.mixed {
			out = append(out, Clash{Text: key, Indices: g.indices})
		}
	}
	return out
}
