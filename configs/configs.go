// Package configs holds the example configurations that ship inside the attune binary, so that
// `attune serve` runs with nothing beside it and a newcomer can chat with a working bot at once.
package configs

import _ "embed"

// Demo is the configuration of Crumb & Co., an online bakery: the business Attune serves when no
// --config is given, and the worked example that docs/configuration.md refers to. Parse it with
// intents.Parse(DemoName, Demo).
//
//go:embed demo.yaml
var Demo []byte

// DemoName is how problems and logs refer to the embedded demo, since it has no path on disk.
const DemoName = "embedded demo (configs/demo.yaml)"

// Minimal is a small complete configuration: the keys a business must write plus opening hours
// and an email address; every other key takes its default. It is the starting point the docs
// suggest for a new business.
//
//go:embed minimal.yaml
var Minimal []byte

// MinimalName is how problems and logs refer to the embedded minimal example.
const MinimalName = "embedded example (configs/minimal.yaml)"
