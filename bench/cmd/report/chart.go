package main

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Comparison is one bar of the chart: a ringlog variant against another impl on one case.
type Comparison struct {
	Workload, Case, Ringlog, Other string
	Role                           Role    // of Other
	Speedup                        float64 // other's median ns/op ÷ ringlog's
	Target                         float64 // the minimum speed-up a target asks, or 0
}

// Label names the comparison on the chart.
func (c Comparison) Label() string {
	var parts []string
	for p := range strings.SplitSeq(c.Case, "/") {
		switch {
		case p == "size=128":
		case strings.HasPrefix(p, "events="):
			parts = append(parts, strings.TrimPrefix(p, "events="))
		case strings.HasPrefix(p, "goroutines="):
			parts = append(parts, strings.TrimPrefix(p, "goroutines=")+" goroutine(s)")
		default:
			parts = append(parts, p)
		}
	}
	head := c.Workload
	if len(parts) > 0 {
		head += " " + strings.Join(parts, " ")
	}
	return fmt.Sprintf("%s: %s vs %s", head, c.Ringlog, c.Other)
}

// Comparisons returns the chart's bars: in every ns/op workload, every case of 128 B
// events (or without a size), each ringlog variant against each peer and limit.
func Comparisons(run *Run) []Comparison {
	var out []Comparison
	for _, wl := range workloads {
		if wl.Primary != "ns/op" || wl.HigherBetter {
			continue
		}
		var cases []string
		byCase := map[string][]*Result{}
		for _, r := range run.Results {
			if r.Workload != wl.Name {
				continue
			}
			if strings.Contains(r.Case, "size=") && !strings.Contains(r.Case, "size=128") {
				continue
			}
			if _, ok := byCase[r.Case]; !ok {
				cases = append(cases, r.Case)
			}
			byCase[r.Case] = append(byCase[r.Case], r)
		}
		for _, c := range cases {
			for _, r := range byCase[c] {
				if RoleOf(r.Impl) != RoleRinglog {
					continue
				}
				rv, ok := r.Median("ns/op")
				if !ok || rv <= 0 {
					continue
				}
				for _, o := range byCase[c] {
					role := RoleOf(o.Impl)
					if role == RoleRinglog {
						continue
					}
					ov, ok := o.Median("ns/op")
					if !ok || ov <= 0 {
						continue
					}
					cmp := Comparison{Workload: wl.Name, Case: c, Ringlog: r.Impl, Other: o.Impl, Role: role, Speedup: ov / rv}
					for _, t := range targets {
						if t.Kind != Absolute && t.Workload == wl.Name && t.Case == c && t.Ringlog == r.Impl && t.Other == o.Impl {
							cmp.Target = t.MinSpeedup()
						}
					}
					out = append(out, cmp)
				}
			}
		}
	}
	return out
}

var (
	peerColor   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	limitColor  = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
	targetColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// legendRows are blank rows under the bars where the legend goes.
const legendRows = 3

// targetGlyph draws a target as a short vertical bar across a bar's row.
type targetGlyph struct{}

func (targetGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	ls := draw.LineStyle{Color: sty.Color, Width: vg.Points(2)}
	c.StrokeLine2(ls, pt.X, pt.Y-sty.Radius, pt.X, pt.Y+sty.Radius)
}

// logTicks labels a log10 axis with the powers of ten (0.1×, 1×, 10×) and marks 2..9
// between them.
func logTicks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for k := math.Floor(min); k <= math.Ceil(max); k++ {
		if k >= min && k <= max {
			ticks = append(ticks, plot.Tick{Value: k, Label: strings.TrimSuffix(fmt.Sprintf("%g", math.Pow(10, k)), ".0") + "×"})
		}
		for m := 2.0; m < 10; m++ {
			if v := k + math.Log10(m); v >= min && v <= max {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}

// NewChart draws the comparisons as horizontal bars of log10(speed-up): right of 1×
// ringlog is faster; a red mark is a target's minimum.
func NewChart(cmps []Comparison, info Info) (*plot.Plot, error) {
	if len(cmps) == 0 {
		return nil, fmt.Errorf("no comparisons to chart")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("ringlog speed-up over peers and limits: their ns/op ÷ ringlog's (log scale; right of 1× = ringlog faster)\n%s run, %s, %d CPUs, Linux %s, %s",
		info.Mode, info.CPU, info.NProc, info.Kernel, info.GoVersion)
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text = "speed-up of ringlog (×)"
	p.X.Tick.Marker = plot.TickerFunc(logTicks)
	p.Add(plotter.NewGrid())

	n := len(cmps)
	names := make([]string, n+legendRows)
	lo, hi := -0.5, 0.5
	var targetXY plotter.XYs
	var labelXY plotter.XYs
	var labelText []string
	var peerBar, limitBar *plotter.BarChart
	for i, c := range cmps {
		y := float64(legendRows + n - 1 - i) // first comparison on top
		names[int(y)] = c.Label()
		v := math.Log10(c.Speedup)
		bc, err := plotter.NewBarChart(plotter.Values{v}, vg.Points(9))
		if err != nil {
			return nil, err
		}
		bc.Horizontal = true
		bc.XMin = y
		bc.LineStyle.Width = 0
		bc.Color = peerColor
		if c.Role == RoleLimit {
			bc.Color = limitColor
			limitBar = bc
		} else {
			peerBar = bc
		}
		p.Add(bc)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		labelX := math.Max(v, 0)
		if c.Target > 0 {
			t := math.Log10(c.Target)
			targetXY = append(targetXY, plotter.XY{X: t, Y: y})
			lo, hi = math.Min(lo, t), math.Max(hi, t)
			labelX = math.Max(labelX, t) // right of the target mark
		}
		labelXY = append(labelXY, plotter.XY{X: labelX, Y: y})
		labelText = append(labelText, num(c.Speedup)+"×")
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.5, float64(n+legendRows)-0.5
	p.X.Min, p.X.Max = math.Floor(lo*4)/4-0.1, hi+0.6 // room for the value labels

	one, err := plotter.NewLine(plotter.XYs{{X: 0, Y: p.Y.Min}, {X: 0, Y: p.Y.Max}})
	if err != nil {
		return nil, err
	}
	one.LineStyle.Width = vg.Points(1)
	p.Add(one)

	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: labelXY, Labels: labelText})
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].Font.Size = vg.Points(7)
		labels.TextStyle[i].YAlign = draw.YCenter
	}
	labels.Offset = vg.Point{X: vg.Points(3)}
	p.Add(labels)

	if peerBar != nil {
		p.Legend.Add("ringlog vs a peer", peerBar)
	}
	if limitBar != nil {
		p.Legend.Add("ringlog vs a physical limit", limitBar)
	}
	if len(targetXY) > 0 {
		sc, err := plotter.NewScatter(targetXY)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: targetColor, Radius: vg.Points(6), Shape: targetGlyph{}}
		p.Add(sc)
		p.Legend.Add("target of issue 6 (minimum)", sc)
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(12), vg.Points(6)
	p.Legend.Padding = vg.Points(4)
	p.Legend.ThumbnailWidth = vg.Points(20)
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	return p, nil
}

// ChartSize returns the width and height for n comparisons.
func ChartSize(n int) (w, h vg.Length) {
	return 10 * vg.Inch, vg.Length(n+legendRows)*vg.Points(15) + 1.6*vg.Inch
}
