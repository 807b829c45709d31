package bench

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotSeries draws the pods created, bound, Running (and deleted, if any) over time as a PNG.
func plotSeries(path, title string, pts []Point) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since the workload started"
	p.Y.Label.Text = "pods"
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	lines := []struct {
		name  string
		col   color.RGBA
		value func(Point) int
	}{
		{"created", color.RGBA{R: 31, G: 119, B: 180, A: 255}, func(x Point) int { return x.Created }},
		{"bound", color.RGBA{R: 255, G: 127, B: 14, A: 255}, func(x Point) int { return x.Bound }},
		{"running", color.RGBA{R: 44, G: 160, B: 44, A: 255}, func(x Point) int { return x.Running }},
		{"deleted", color.RGBA{R: 214, G: 39, B: 40, A: 255}, func(x Point) int { return x.Deleted }},
	}
	for _, l := range lines {
		xy := make(plotter.XYs, len(pts))
		any := false
		for i, pt := range pts {
			xy[i].X, xy[i].Y = pt.T, float64(l.value(pt))
			any = any || l.value(pt) > 0
		}
		if l.name == "deleted" && !any {
			continue
		}
		if len(xy) == 0 {
			continue
		}
		ln, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("plot %s: %w", l.name, err)
		}
		ln.Color = l.col
		ln.Width = vg.Points(1.5)
		p.Add(ln)
		p.Legend.Add(l.name, ln)
	}
	if err := p.Save(9*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
