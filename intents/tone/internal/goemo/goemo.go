// Package goemo reads the GoEmotions splits (Demszky et al., ACL 2020; Apache-2.0) and maps
// their 28 labels onto Attune's tones, for training and evaluation.
package goemo

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Tones are the GoEmotions-backed tones in the order of the Gold bits; urgency has no label.
var Tones = []string{"frustration", "confusion", "anxiety", "delight", "neutral"}

// labelTone maps a GoEmotions label to the index in Tones, as specified in issue 4. Labels
// missing here (amusement, caring, curiosity, ...) count as negatives for every tone.
var labelTone = map[string]int{
	"anger": 0, "annoyance": 0, "disappointment": 0, "disapproval": 0, "disgust": 0,
	"confusion":   1,
	"nervousness": 2, "fear": 2,
	"gratitude": 3, "joy": 3, "admiration": 3, "approval": 3, "excitement": 3, "relief": 3, "love": 3, "optimism": 3,
	"neutral": 4,
}

// ToneLabels returns the ids of the GoEmotions labels merged into Tones[t].
func ToneLabels(t int) []int {
	var ids []int
	for id, l := range Labels {
		if lt, ok := labelTone[l]; ok && lt == t {
			ids = append(ids, id)
		}
	}
	return ids
}

// Labels lists the 28 GoEmotions labels in id order (emotions.txt).
var Labels = strings.Fields("admiration amusement anger annoyance approval caring confusion curiosity desire disappointment disapproval disgust embarrassment excitement fear gratitude grief joy love nervousness optimism pride realization relief remorse sadness surprise neutral")

// Example is one comment with its mapped tones; Gold[i] is true when Tones[i] applies.
type Example struct {
	Text string
	Gold [5]bool
	// Labels has bit i set when Labels[i] (the GoEmotions label with id i) applies.
	Labels uint32
}

// Load reads one split (train.tsv, dev.tsv or test.tsv).
func Load(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.FieldsPerRecord = 3
	var out []Example
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		ex := Example{Text: rec[0]}
		for _, l := range strings.Split(rec[1], ",") {
			id, err := strconv.Atoi(strings.TrimSpace(l))
			if err != nil || id < 0 || id >= len(Labels) {
				return nil, fmt.Errorf("load %s: bad label %q", path, l)
			}
			ex.Labels |= 1 << id
			if t, ok := labelTone[Labels[id]]; ok {
				ex.Gold[t] = true
			}
		}
		out = append(out, ex)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load %s: no rows", path)
	}
	return out, nil
}
