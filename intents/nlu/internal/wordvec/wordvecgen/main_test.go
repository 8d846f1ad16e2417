package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attune-chat/attune/intents/nlu/internal/wordvec"
)

func TestRunKeepsFirstLines(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "glove.txt")
	text := "the 0.1 -0.2 0.3\n, 1 2 3\nrefund -1.5 0 2.25\nbanana 4 4 4\n"
	if err := os.WriteFile(in, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "table.bin")
	if err := run(in, out, 3, convert); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := wordvec.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 3 || tab.Dim() != 3 || tab.Row("refund") != 2 || tab.Row("banana") != -1 {
		t.Fatalf("Len %d Dim %d, refund at %d, banana at %d; want 3, 3, 2, -1", tab.Len(), tab.Dim(), tab.Row("refund"), tab.Row("banana"))
	}
	q, scale := tab.Vector(2)
	if got := scale * float32(int8(q[2])); got != 2.25 {
		t.Errorf("refund[2] = %v, want 2.25 (the largest component is exact)", got)
	}
}

func TestConvertRejects(t *testing.T) {
	for name, text := range map[string]string{
		"empty":         "",
		"no components": "the\n",
		"ragged":        "the 1 2\nof 1\n",
		"not a number":  "the 1 x\n",
	} {
		if err := convert(strings.NewReader(text), &bytes.Buffer{}, 10); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := run("", "out", 1, convert); err == nil {
		t.Error("run without -in: no error")
	}
}

func TestConvertWinkMatchesText(t *testing.T) {
	// The same three words in both layouts: the npm package's JSON (two
	// extras per vector, a norm and an index) and GloVe's text.
	const wink = `{"precision":8,"dimensions":3,"words":["the",",","refund"],
		"vectors":{"refund":[-1.5,0,2.25,2.7,2],"the":[0.1,-0.2,0.3,0.37,0],",":[1,2,3,3.7,1]}}`
	const text = "the 0.1 -0.2 0.3\n, 1 2 3\nrefund -1.5 0 2.25\n"
	for _, n := range []int{2, 3, 10} {
		var fromJSON, fromText bytes.Buffer
		if err := convertWink(strings.NewReader(wink), &fromJSON, n); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if err := convert(strings.NewReader(text), &fromText, n); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !bytes.Equal(fromJSON.Bytes(), fromText.Bytes()) {
			t.Errorf("n=%d: the JSON and the text layout give different tables", n)
		}
	}
}

func TestConvertWinkRejects(t *testing.T) {
	for name, js := range map[string]string{
		"not JSON":       "the 1 2 3",
		"no dimensions":  `{"words":["the"],"vectors":{"the":[1,2]}}`,
		"missing vector": `{"dimensions":2,"words":["the"],"vectors":{}}`,
		"short vector":   `{"dimensions":3,"words":["the"],"vectors":{"the":[1,2]}}`,
		"no words":       `{"dimensions":2,"words":[],"vectors":{}}`,
	} {
		if err := convertWink(strings.NewReader(js), &bytes.Buffer{}, 10); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := run(filepath.Join(t.TempDir(), "absent.json"), "out", 1, convertWink); err == nil {
		t.Error("run on a missing file: no error")
	}
}
