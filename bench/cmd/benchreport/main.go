// Command benchreport runs Plexus's benchmark suite (package bench) and
// writes report.md and report.json. Each section runs in a child process of
// its own, so that memory figures start from a clean heap and a crash in
// one section is reported instead of ending the run.
//
// Sizes come from PLEXUS_BENCH_* environment variables (see bench.Config);
// PLEXUS_BENCH_QUICK=1 is a CI smoke run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/plexus-p2p/plexus/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "bench", "directory to write report.md and report.json into")
	sections := flag.String("sections", strings.Join(bench.Sections, ","), "comma-separated sections to run")
	child := flag.String("section", "", "run one section and print its JSON on stdout (used by the parent)")
	timeout := flag.Duration("section-timeout", 8*time.Minute, "time limit of one section")
	filesOut := flag.String("files", "", "add the file sharing figures parsed from this go test -bench output to <out>/report.json and print their markdown section (used by bench/run.sh)")
	filesBytes := flag.String("files-bytes", "1GiB", "with -files: the file size the benchmarks ran with")
	flag.Parse()
	if *filesOut != "" {
		return addFiles(*out, *filesOut, *filesBytes)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With(slog.String("component", "benchreport"))

	cfg, err := bench.ConfigFromEnv()
	if err != nil {
		return err
	}
	if *child != "" {
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		var r bench.Report
		s := bench.Suite{Config: cfg, Log: log.With(slog.String("section", *child))}
		if err := s.Run(ctx, *child, &r); err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(r)
	}

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	r := bench.Report{Machine: bench.DescribeMachine(), Config: cfg, Seconds: map[string]float64{}}
	for _, sec := range strings.Split(*sections, ",") {
		sec = strings.TrimSpace(sec)
		if !slices.Contains(bench.Sections, sec) {
			return fmt.Errorf("unknown section %q (have %v)", sec, bench.Sections)
		}
		if sec == "tuning" && !cfg.Tuning {
			continue
		}
		start := time.Now()
		part, err := runChild(ctx, exe, sec, *timeout)
		r.Seconds[sec] = time.Since(start).Seconds()
		if err != nil {
			log.Error("section failed", slog.String("section", sec), slog.Any("err", err))
			r.Errors = append(r.Errors, bench.SectionError{Section: sec, Error: err.Error()})
		}
		r.Merge(part)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	r.Finish()

	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	for name, data := range map[string][]byte{"report.json": append(js, '\n'), "report.md": []byte(r.Markdown())} {
		p := filepath.Join(*out, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		log.Info("wrote", slog.String("file", p))
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("%d section(s) failed; see the report", len(r.Errors))
	}
	return nil
}

// runChild runs one section in a child process and decodes its report.
func runChild(ctx context.Context, exe, section string, timeout time.Duration) (bench.Report, error) {
	var r bench.Report
	ctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-section", section, "-section-timeout", timeout.String())
	cmd.Stderr = os.Stderr
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return r, fmt.Errorf("section %s: child %s", section, ee.ProcessState)
		}
		return r, fmt.Errorf("section %s: %w", section, err)
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("section %s: decode child output: %w", section, err)
	}
	return r, nil
}

// addFiles parses the file sharing benchmarks' output into report.json
// (section files, and its goals) and prints the section's markdown.
func addFiles(dir, outFile, size string) error {
	n, err := bench.ParseSize(size)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(outFile)
	if err != nil {
		return err
	}
	f, err := bench.ParseFiles(raw, n)
	if err != nil {
		return fmt.Errorf("%s: %w", outFile, err)
	}
	p := filepath.Join(dir, "report.json")
	js, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var r bench.Report
	if err := json.Unmarshal(js, &r); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	r.Files = f
	r.Finish()
	js, err = json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(p, append(js, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Print(r.FilesMarkdown())
	return nil
}
