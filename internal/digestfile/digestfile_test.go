package digestfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "golden.tsv.gz")
	rows := []Row{{"support", "0", "6f4dcc39"}, {"support", "1", "0bbffe3c"}, {"clinc", "0", "deadbeef"}}
	if err := Write(path, rows); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("read %d digests, wrote %d", len(got), len(rows))
	}
	for _, r := range rows {
		if got[Key(r.Corpus, r.ID)] != r.Digest {
			t.Errorf("%s/%s: read %q, want %q", r.Corpus, r.ID, got[Key(r.Corpus, r.ID)], r.Digest)
		}
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	dup := filepath.Join(dir, "dup.tsv.gz")
	if err := Write(dup, []Row{{"a", "1", "x"}, {"a", "1", "y"}}); err == nil || !strings.Contains(err.Error(), "duplicate golden key") {
		t.Errorf("duplicate rows: %v, want a duplicate-key error", err)
	}
	if _, err := os.Stat(dup); !os.IsNotExist(err) {
		t.Errorf("a refused write left a file behind: %v", err)
	}
	plain := filepath.Join(dir, "plain.tsv")
	if err := os.WriteFile(plain, []byte("a\t1\tx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(plain); err == nil || !strings.Contains(err.Error(), "gunzip") {
		t.Errorf("reading an uncompressed file: %v, want a gunzip error", err)
	}
	if _, err := Read(filepath.Join(dir, "missing.gz")); err == nil {
		t.Error("reading a missing file gave no error")
	}
}
