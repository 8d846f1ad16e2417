package nlu

import "testing"

// BenchmarkNormalize measures normalisation and prose tokenisation of a
// typical nine-word message.
func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Normalize("how would i say i'm sorry in spanish please")
	}
}

// BenchmarkExtract measures tokenisation plus feature hashing.
func BenchmarkExtract(b *testing.B) {
	fc := Options{}.withDefaults().features()
	var f rawFeatures
	b.ReportAllocs()
	for b.Loop() {
		fc.extract("how would i say i'm sorry in spanish please", &f)
	}
}
