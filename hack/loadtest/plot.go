/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// chart is one PNG: a value of each point against concurrency, one line per scenario.
type chart struct {
	File, Title, YLabel string
	Value               func(*point) float64
}

var charts = []chart{
	{"throughput.png", "Throughput", "requests per second (log)", func(p *point) float64 { return p.RPS }},
	{"p95.png", "95th percentile latency", "p95, ms (log)", func(p *point) float64 { return p.P95Ms }},
	{"efficiency.png", "Efficiency", "requests per CPU-second of server + Postgres (log)", func(p *point) float64 { return p.PerCPUSecond }},
}

// writePlots draws the charts into dir and returns their file names.
func writePlots(r *results, dir string) ([]chart, error) {
	var written []chart
	for _, c := range charts {
		p := plot.New()
		p.Title.Text = c.Title + " against concurrency (" + strconv.Itoa(r.Machine.CPUs) + " CPUs)"
		p.X.Label.Text = "concurrent users"
		p.Y.Label.Text = c.YLabel
		p.Legend.Top, p.Legend.Left = true, true
		var lines []any
		positive := true
		for _, name := range reportOrder {
			s := r.scenario(name)
			if s == nil {
				continue
			}
			xys := make(plotter.XYs, 0, len(s.Points))
			for _, pt := range s.Points {
				v := c.Value(pt)
				positive = positive && v > 0
				xys = append(xys, plotter.XY{X: float64(pt.Concurrency), Y: v})
			}
			lines = append(lines, s.Name, xys)
		}
		if len(lines) == 0 {
			continue
		}
		if err := plotutil.AddLinePoints(p, lines...); err != nil {
			return nil, err
		}
		levels := r.Settings.Concurrency
		if len(levels) > 1 {
			p.X.Scale = plot.LogScale{}
			var ticks []plot.Tick
			for _, c := range levels {
				ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
			}
			p.X.Tick.Marker = plot.ConstantTicks(ticks)
		}
		if positive {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		}
		if err := p.Save(9*vg.Inch, 6*vg.Inch, filepath.Join(dir, c.File)); err != nil {
			return nil, err
		}
		written = append(written, c)
	}
	return written, nil
}
