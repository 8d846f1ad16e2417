// Package nlu is Attune's intent classifier: a pure-Go, CPU-only text
// classifier with out-of-scope detection, trained from a business's own
// examples at configuration load.
//
// A text is normalised (Unicode NFKC, accents removed, lower case,
// contractions expanded, punctuation dropped), tokenised with prose's
// tokenizer, and turned into hashed features: word unigrams and bigrams, and
// character 2- to 5-grams inside each word. Each block is weighted with
// sublinear TF-IDF and l2-normalised. A multinomial logistic regression,
// fitted by SGD with lazy L2 decay, gives a probability per label; a message
// whose best probability is below a threshold is out of scope and goes to
// the next layer (clarification, the LLM or a person) instead of a wrong
// answer.
//
// The design and its measured quality are checked by `attune eval intents`
// (package nlueval) on CLINC150 and HWU64.
package nlu
