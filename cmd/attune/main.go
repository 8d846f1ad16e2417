// Command attune is the Attune customer-support chat server and its tools.
//
//	attune serve            run the server (embedded demo configuration and ./attune.db by default)
//	attune check FILE...    validate configuration files
//	attune config default   print the embedded demo configuration
//	attune eval intents     measure the intent classifier on a benchmark
//	attune eval tone        measure the tone analyzer on VADER's and GoEmotions' sets
//	attune bench            load-test the server over loopback websockets
//	attune agent ...        manage agent accounts
//	attune visitor ...      find, export or delete what is stored about one visitor
//	attune version          print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // opening hours need time zones even on machines without /usr/share/zoneinfo

	"github.com/attune-chat/attune/configs"
	"github.com/attune-chat/attune/intents"
	"github.com/attune-chat/attune/intents/nlu/nlueval"
	"github.com/attune-chat/attune/intents/tone/toneeval"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Attune — customer-support chat server

Usage:
  attune serve [--addr ADDR] [--db FILE] [--config FILE]   run the server
  attune check FILE...                                     validate configuration files
  attune config default                                    print the embedded demo configuration
  attune eval intents [flags]                              evaluate the intent classifier (see --help)
  attune eval tone [flags]                                 evaluate the tone analyzer (see --help)
  attune bench [flags]                                     load-test a server over loopback (see --help)
  attune agent add|list|remove|passwd [flags]              manage agent accounts (for the agent console)
  attune visitor find|export|delete [flags]                find, export or delete a visitor's data (see --help)
  attune version                                           print the version

Run "attune serve --help" for the server's flags and environment variables.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks mistakes in the command line itself (exit status 2).
var errUsage = errors.New("usage")

// run is the whole program, minus the process: tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "config":
		switch {
		case len(args) == 2 && args[1] == "default":
			_, err = stdout.Write(configs.Demo)
		case isHelp(args[1:]):
			fmt.Fprintln(stdout, "usage: attune config default   print the embedded demo configuration")
		default:
			err = fmt.Errorf("%w: attune config default", errUsage)
		}
	case "eval":
		err = eval(args[1:], stdout, stderr)
	case "bench":
		err = bench(ctx, args[1:], stdout, stderr)
	case "agent":
		err = agentCommand(ctx, args[1:], stdin, stdout, stderr)
	case "visitor":
		err = visitorCommand(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "attune %s\n", version)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "attune: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp): // the flag set has printed its usage
		return 0
	case errors.Is(err, errUsage), errors.Is(err, nlueval.ErrUsage), errors.Is(err, toneeval.ErrUsage):
		fmt.Fprintf(stderr, "attune: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "attune: %v\n", err)
		return 1
	}
}

// check validates configuration files and prints every problem as FILE:LINE:COL: what — fix.
func check(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "attune: usage: attune check FILE...")
		return 2
	}
	if isHelp(files) {
		fmt.Fprintln(stdout, "usage: attune check FILE...   validate configuration files; each problem is printed as FILE:LINE:COL: what is wrong — how to fix it")
		return 0
	}
	code := 0
	for _, f := range files {
		cfg, err := intents.Load(f)
		if err == nil {
			_, err = intents.Train(cfg)
		}
		var ce *intents.ConfigError
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "%s: ok (%d intents, %d FAQ entries)\n", f, len(cfg.Intents), len(cfg.FAQ))
		case errors.As(err, &ce):
			for _, p := range ce.Problems {
				fmt.Fprintln(stdout, p.String())
			}
			fmt.Fprintf(stderr, "%s: %d problem(s)\n", f, len(ce.Problems))
			code = 1
		default:
			fmt.Fprintf(stdout, "%s: %v\n", f, err)
			code = 1
		}
	}
	return code
}

func eval(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: attune eval intents|tone [flags]", errUsage)
	}
	switch args[0] {
	case "intents":
		return nlueval.Command(args[1:], stdout, stderr)
	case "tone":
		return toneeval.Command(args[1:], stdout, stderr)
	default:
		return fmt.Errorf("%w: unknown evaluation %q; use intents or tone", errUsage, args[0])
	}
}

// isHelp reports whether args is a lone request for help, for the sub-commands that take no flags.
func isHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help")
}
