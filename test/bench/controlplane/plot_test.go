package controlplane

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"
)

var (
	red  = color.RGBA{220, 0, 0, 255}
	blue = color.RGBA{0, 0, 220, 255}
)

// colorBox returns the bounding box of the pixels of colour c.
func colorBox(img image.Image, c color.RGBA) (image.Rectangle, int) {
	box, n := image.Rectangle{}, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bl>>8) == c.B {
				box = box.Union(image.Rect(x, y, x+1, y+1))
				n++
			}
		}
	}
	return box, n
}

func render(t *testing.T, panels []Panel) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := RenderPNG(&buf, "test", panels); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

// TestRenderPNGDrawsEachSeriesInItsPanel: a rising series in the first
// panel and a flat one in the second land where they should.
func TestRenderPNGDrawsEachSeriesInItsPanel(t *testing.T) {
	x := []float64{0, 10, 20, 30}
	img := render(t, []Panel{
		{Title: "rising", Series: []Series{{Name: "up", Color: red, X: x, Y: []float64{0, 1, 2, 3}}}},
		{Title: "flat", Unit: "MB", Series: []Series{{Name: "flat", Color: blue, X: x, Y: []float64{5, 5, 5, 5}}}},
	})
	if got := img.Bounds().Size(); got != (image.Point{plotWidth, titleHeight + 2*panelHeight}) {
		t.Fatalf("size %v", got)
	}
	redBox, n := colorBox(img, red)
	if n == 0 {
		t.Fatal("rising series not drawn")
	}
	if redBox.Max.Y > titleHeight+panelHeight || redBox.Dx() < plotWidth/2 || redBox.Dy() < panelHeight/2 {
		t.Errorf("rising series box %v: should span the first panel", redBox)
	}
	blueBox, n := colorBox(img, blue)
	if n == 0 {
		t.Fatal("flat series not drawn")
	}
	// The legend swatch is part of the box; the line itself is 2 px high.
	if blueBox.Min.Y < titleHeight+panelHeight {
		t.Errorf("flat series box %v: should be in the second panel", blueBox)
	}
}

func TestRenderPNGToleratesGapsAndNoData(t *testing.T) {
	nan := math.NaN()
	img := render(t, []Panel{
		{Title: "gaps", Series: []Series{{Name: "g", Color: red, X: []float64{0, 1, 2}, Y: []float64{nan, 1, math.Inf(1)}}}},
		{Title: "empty", Series: []Series{{Name: "e", Color: blue}}},
	})
	if _, n := colorBox(img, red); n == 0 {
		t.Error("the one finite point should be drawn")
	}
	var buf bytes.Buffer
	if err := RenderPNG(&buf, "none", nil); err == nil {
		t.Error("no panels: no error")
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, -3: 1, 0.7: 1, 1: 1, 1.1: 2, 2.2: 2.5, 3: 5, 7: 10, 12: 20, 9500: 10000, 26: 50} {
		if got := NiceCeil(in); math.Abs(got-want) > 1e-9 {
			t.Errorf("NiceCeil(%v) = %v, want %v", in, got, want)
		}
	}
	if got := NiceCeil(math.NaN()); got != 1 {
		t.Errorf("NiceCeil(NaN) = %v", got)
	}
}

func TestRenderPNGDrawsMarks(t *testing.T) {
	x := []float64{0, 100}
	img := render(t, []Panel{{Title: "m", Marks: []float64{50, 500}, Series: []Series{{Name: "s", Color: red, X: x, Y: []float64{1, 1}}}}})
	box, n := colorBox(img, markColor)
	if n == 0 {
		t.Fatal("mark not drawn")
	}
	mid := marginLeft + (plotWidth-marginLeft-marginRight)/2
	if box.Dx() != 1 || box.Min.X < mid-1 || box.Min.X > mid+1 {
		t.Errorf("mark box %v: want one dashed line at x=%d (the out-of-range mark skipped)", box, mid)
	}
}
