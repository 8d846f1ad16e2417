// Command devrun is a temporary development driver; it is removed before review.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/attune-chat/attune/intents/nlu"
	"github.com/attune-chat/attune/intents/nlu/nlueval"
)

func main() {
	if len(os.Args) > 1 && os.Args[1][0] == '-' {
		if err := nlueval.Command(os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var opt nlu.Options
	json.Unmarshal([]byte(os.Getenv("NLU_OPTS")), &opt)
	var ds nlueval.Dataset
	var err error
	if os.Args[1] == "clinc" {
		ds, err = nlueval.LoadCLINC("../shared/datasets/clinc150/data_full.json")
		// Tune on val only: evaluate on val (thresholding on val too, optimistic but comparable).
		ds.Test = ds.Val
		for _, e := range ds.Train {
			if e.Label == nlu.OutOfScope {
				ds.Test = append(ds.Test, e)
			}
		}
	} else {
		tr, _ := nlueval.LoadCSV("../shared/datasets/hwu64/train.csv")
		ds.Train, ds.Test = nlueval.HoldOut(tr, 0.1)
		ds.TrainOOS = true
	}
	if err != nil {
		panic(err)
	}
	rep, err := nlueval.EvaluateOptions(ds, -1, opt)
	if err != nil {
		panic(err)
	}
	oos := 0.0
	if rep.OOSRecall != nil {
		oos = *rep.OOSRecall
	}
	fmt.Printf("val151=%.2f %s %s acc=%.2f oos=%.1f closed=%.2f thr=%.3f train=%.1fs p50=%.0fus mb=%.1f\n", 100*deref(rep.ValAccuracy), os.Args[1], os.Getenv("NLU_OPTS"), 100*rep.InScopeAccuracy, 100*oos, 100*rep.ClosedSetAccuracy, rep.Threshold, rep.TrainSeconds, rep.ClassifyP50US, float64(rep.ModelBytes)/(1<<20))
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
