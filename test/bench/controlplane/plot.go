package controlplane

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one line of a panel: Y[i] at X[i] (seconds). NaN values leave a
// gap.
type Series struct {
	Name  string
	Color color.RGBA
	X, Y  []float64
}

// Panel is one chart with its own y axis.
type Panel struct {
	Title  string
	Unit   string
	Series []Series
	// Marks are x values (seconds) where a dashed vertical line is drawn,
	// e.g. where a phase starts.
	Marks []float64
}

// Plot geometry, in pixels.
const (
	plotWidth   = 1000
	panelHeight = 200
	marginLeft  = 80
	marginRight = 20
	marginTop   = 24
	marginBot   = 28
	titleHeight = 24
)

var (
	background = color.RGBA{255, 255, 255, 255}
	axisColor  = color.RGBA{60, 60, 60, 255}
	gridColor  = color.RGBA{225, 225, 225, 255}
	textColor  = color.RGBA{20, 20, 20, 255}
	markColor  = color.RGBA{120, 120, 120, 255}
)

// RenderPNG draws the panels stacked vertically, sharing the x axis (time in
// seconds), under title, and encodes the image as PNG.
func RenderPNG(w io.Writer, title string, panels []Panel) error {
	if len(panels) == 0 {
		return fmt.Errorf("plot %q: no panels", title)
	}
	img := image.NewRGBA(image.Rect(0, 0, plotWidth, titleHeight+len(panels)*panelHeight))
	draw.Draw(img, img.Bounds(), &image.Uniform{background}, image.Point{}, draw.Src)
	drawText(img, marginLeft, 16, title)
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, p := range panels {
		for _, s := range p.Series {
			for i := range min(len(s.X), len(s.Y)) {
				if !math.IsNaN(s.X[i]) && !math.IsNaN(s.Y[i]) {
					xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
				}
			}
		}
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	for i, p := range panels {
		top := titleHeight + i*panelHeight
		drawPanel(img, image.Rect(marginLeft, top+marginTop, plotWidth-marginRight, top+panelHeight-marginBot), p, xmin, xmax)
	}
	return png.Encode(w, img)
}

// drawPanel draws one panel's axes, grid, labels, legend and lines in area
// (the plotting rectangle).
func drawPanel(img *image.RGBA, area image.Rectangle, p Panel, xmin, xmax float64) {
	ymax := 0.0
	for _, s := range p.Series {
		for _, y := range s.Y {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				ymax = math.Max(ymax, y)
			}
		}
	}
	ymax = NiceCeil(ymax)
	label := p.Title
	if p.Unit != "" {
		label += " (" + p.Unit + ")"
	}
	drawText(img, area.Min.X, area.Min.Y-6, label)
	legendX := area.Max.X - 10
	for i := len(p.Series) - 1; i >= 0; i-- {
		s := p.Series[i]
		legendX -= 8 * (len(s.Name) + 4)
		fillRect(img, image.Rect(legendX, area.Min.Y-14, legendX+16, area.Min.Y-8), s.Color)
		drawText(img, legendX+20, area.Min.Y-6, s.Name)
	}
	const ticks = 4
	for k := 0; k <= ticks; k++ {
		y := area.Max.Y - k*area.Dy()/ticks
		hline(img, area.Min.X, area.Max.X, y, gridColor)
		v := ymax * float64(k) / ticks
		txt := formatTick(v)
		drawText(img, area.Min.X-8-7*len(txt), y+4, txt)
		x := area.Min.X + k*area.Dx()/ticks
		vline(img, x, area.Min.Y, area.Max.Y, gridColor)
		xv := xmin + (xmax-xmin)*float64(k)/ticks
		xt := formatTick(xv) + "s"
		drawText(img, x-7*len(xt)/2, area.Max.Y+16, xt)
	}
	hline(img, area.Min.X, area.Max.X, area.Max.Y, axisColor)
	vline(img, area.Min.X, area.Min.Y, area.Max.Y, axisColor)
	px := func(x, y float64) (int, int) {
		fx := float64(area.Min.X) + (x-xmin)/(xmax-xmin)*float64(area.Dx())
		fy := float64(area.Max.Y) - y/ymax*float64(area.Dy())
		return int(math.Round(fx)), int(math.Round(fy))
	}
	for _, m := range p.Marks {
		if m < xmin || m > xmax {
			continue
		}
		x, _ := px(m, 0)
		for y := area.Min.Y; y <= area.Max.Y; y += 6 {
			vline(img, x, y, min(y+3, area.Max.Y), markColor)
		}
	}
	for _, s := range p.Series {
		havePrev := false
		var x0, y0 int
		for i := range min(len(s.X), len(s.Y)) {
			if math.IsNaN(s.X[i]) || math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				havePrev = false
				continue
			}
			x1, y1 := px(s.X[i], s.Y[i])
			if havePrev {
				line(img, x0, y0, x1, y1, s.Color)
			} else {
				fillRect(img, image.Rect(x1-1, y1-1, x1+2, y1+2), s.Color)
			}
			x0, y0, havePrev = x1, y1, true
		}
	}
}

// NiceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten, so axis
// ticks at quarters are readable; 1 for v <= 0.
func NiceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

func formatTick(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

func drawText(img *image.RGBA, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(textColor), Face: basicfont.Face7x13,
		Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func fillRect(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r.Intersect(img.Bounds()), &image.Uniform{c}, image.Point{}, draw.Src)
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

// line draws a two-pixel-thick segment (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	err := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		img.SetRGBA(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
