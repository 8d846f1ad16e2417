// Command wordvecgen converts word vectors in GloVe's text layout (a word
// and its components per line, most frequent word first) into the table
// file package wordvec embeds, keeping the first n lines. See package
// wordvec for the full regeneration recipe.
//
//	go run ./intents/nlu/internal/wordvec/wordvecgen -in glove100.txt -n 50000 -out table.bin
package main

import (
	"bufio"
	"bytes"
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
	n := flag.Int("n", 50000, "number of lines (most frequent words) to keep")
	out := flag.String("out", "", "table file to write")
	flag.Parse()
	if err := run(*in, *out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "wordvecgen:", err)
		os.Exit(1)
	}
}

func run(in, out string, n int) error {
	if in == "" || out == "" || n <= 0 {
		return errors.New("need -in, -out and a positive -n")
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	var buf bytes.Buffer
	if err := convert(f, &buf, n); err != nil {
		return fmt.Errorf("convert %s: %w", in, err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
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
