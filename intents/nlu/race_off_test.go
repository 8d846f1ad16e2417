//go:build !race

package nlu_test

// raceEnabled lets tests skip work that the race detector makes minutes long
// without adding coverage (training the full CLINC150 model).
const raceEnabled = false
