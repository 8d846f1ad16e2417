// Package nlu is Attune's intent classifier: a pure-Go, CPU-only text
// classifier with out-of-scope detection, trained from a business's own
// examples when its configuration loads.
//
// Pipeline, for training and classification alike:
//
//   - Normalize: valid UTF-8, at most 2 KiB, NFKC, accents removed, lower
//     case; prose's tokenizer (only spans with punctuation need it; ASCII
//     ones take a transcription of its span splitting, fuzzed against it,
//     see words), contractions expanded ("can't" -> "can not",
//     "im" -> "i am"), punctuation and emoji dropped.
//   - Features, hashed into 2^20 buckets: word unigrams and bigrams, the
//     first and last word marked as such, and character 2- to 4-grams inside
//     each word padded with spaces. Word and character blocks are weighted
//     with TF-IDF (raw counts, scikit-learn's smooth idf) and l2-normalised
//     separately. Features never seen in training still count in the norm,
//     at the rarest idf: a message made mostly of unknown words gets small
//     scores and a low confidence. On CLINC150's validation and oos_train
//     queries this raised out-of-scope recall at the Larson threshold from
//     43 % to 69 % at equal closed-set accuracy. Classify takes the
//     features of words seen in training (unigram, boundary forms,
//     character n-grams, as vocabulary columns) from a per-model lexicon
//     rather than hashing and looking up each n-gram; the vectors are the
//     training path's to the bit (TestVectorizeTextMatchesTraining, and
//     TestClassifyGolden pins whole predictions).
//   - An ensemble of three linear models over the same TF-IDF vectors,
//     folded into one weight matrix (Options.Loss = Ensemble, the default):
//     a multinomial logistic regression (L2, C = 20) and one-vs-rest
//     linear SVMs (squared hinge, C = 1), both fitted by SGD (6 shuffled
//     epochs with a linearly decaying step, lazy weight decay, and updates
//     restricted to classes with a non-negligible gradient), plus
//     multinomial naive Bayes log-probabilities of feature presence (how
//     many of a class's examples have the feature, additive smoothing
//     0.001). The scores are 0.55 x logistic log-odds + 0.45 x SVM
//     margins / 0.15 + 0.1 x naive Bayes log-likelihoods; because every
//     part is linear, a prediction costs one matrix's worth of
//     multiply-adds, as a single model's did. On CLINC150's validation
//     split (Larson 151-class accuracy) it scores 93.0 % against the
//     logistic model's 91.7 % and the SVM's 92.2 %; on HWU64 train with
//     each tenth held out in turn 89.6 % against the logistic model's
//     88.8 %. Naive Bayes over the TF-IDF values with smoothing 0.01, the
//     previous part, gave 92.8 % and 89.3 %: its smoothing mass was
//     comparable to a class's total and flattened it. The weights stay
//     float32, one row of K per feature: int8 rows were tried and, being
//     converted on every use, classified slower on this machine (p50
//     35-45 µs against 28-31 µs on CLINC150) for a quarter of the memory,
//     which the 64 MB budget does not need. Pruning small weights into sparse rows (a class index and a
//     weight per entry) does not pay either: the rows of the features a
//     message actually has are the frequent ones, and they stay 83 % dense
//     at the largest cut-off (0.02) that keeps validation accuracy, too
//     dense for indexed rows to beat contiguous ones.
//   - Tried and dropped on the same validation data: character n-grams
//     across word boundaries (no gain, +60 % features and latency),
//     averaged SGD, training copies with one word dropped, a
//     Weston-Watkins multiclass hinge, word stems (suffix stripping) and
//     skip-bigrams as extra word features, 12 or 16 epochs, and re-scoring
//     the three best labels by the cosine of their nearest training
//     example (all within 0.3 points, or worse). Also no gain: unordered
//     pairs of content words (at any distance or within 5 words: +0.1 on
//     held-out HWU64, -0.2 on CLINC150, nothing on top of a sharp naive
//     Bayes part), character 2-5-grams likewise, averaging two SGD runs
//     with different seeds, NBSVM-style per-feature SGD steps (naive Bayes
//     log-ratios), Dirichlet instead of additive smoothing for naive
//     Bayes, and other mixing weights around the sharp part. Not linear,
//     and dropped too: a 32-unit one-hidden-layer network over the same
//     features, its log-probabilities averaged with the ensemble's. Over
//     three seeds it gained 0.1 point on both held-out sets (within the
//     seed-to-seed spread, which moves out-of-scope recall on oos_val's 100
//     queries by 5-10 points) for 1.2-1.3x the classification time.
//   - Confidence is the best label's probability above chance,
//     (p - 1/K)/(1 - 1/K), so that one threshold (DefaultThreshold) means
//     the same for 10 labels as for 150.
//
// Every default was chosen on the CLINC150 validation split (val + oos_val,
// with Larson et al.'s 151-class accuracy as the criterion) and on held-out
// tenths of the HWU64 training split (every tenth example of each intent
// held out, at each of the ten offsets); no test split was used for a
// choice.
// `attune eval intents` (package nlueval) reproduces the measurements.
package nlu
